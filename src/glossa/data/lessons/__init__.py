"""Small data lessons (§13): a planted mini-corpus through the real pipeline stages, and one set of records
through every file format glossa reads."""
