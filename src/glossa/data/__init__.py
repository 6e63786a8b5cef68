"""Data: where text comes from and how it is cleaned, deduplicated, split and packed (§13)."""
