"""The glossary as data: every term of the seed, where its code lives, what checks it, how to see it run."""

from glossa.glossary.registry import Glossary, Section, Term, load_glossary

__all__ = ["Glossary", "Section", "Term", "load_glossary"]
