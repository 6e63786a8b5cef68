"""The one exception type a user is meant to see.

Anything that is the user's mistake (a bad value, a missing file, an unknown name) raises `GlossaError` with a
message that says what is wrong and what to do. The CLI prints that message on one line and exits non-zero;
anything else is a bug and keeps its traceback.
"""


class GlossaError(Exception):
    """A user-facing error: its message is shown as is, on one line."""
