"""Web pages served by the same process as the API: a chat page and a glossary page with live demos.

Plain HTML, CSS and vanilla JavaScript shipped as package data next to these modules (no build step, no
library download); `routes.router` serves them and the small JSON endpoints they need.
"""
