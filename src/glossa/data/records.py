"""The record every pipeline stage passes along: an id, the text, where it came from, and its metadata.

`glossa.data.corpus.Document` is the embedded corpus's own shape (title, genre); the pipeline needs a more
general one that any source can fill: JSONL rows bring arbitrary fields, and governance (§23) needs a
licence and a consent status on every document so that a data card can say what went in and a later
request can take a document out again. `Record.metadata` carries those; `from_document` converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from glossa.data.corpus import Document

CONSENT_STATES = ("granted", "not-required", "unknown", "withdrawn")


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def licence(self) -> str:
        return str(self.metadata.get("licence", "unknown"))

    @property
    def consent(self) -> str:
        return str(self.metadata.get("consent", "unknown"))

    def with_text(self, text: str) -> Record:
        return replace(self, text=text)


def from_document(document: Document) -> Record:
    """An embedded-corpus play as a record: public domain, so no consent is needed."""
    return Record(
        id=document.doc_id,
        text=document.text,
        source=document.source,
        metadata={
            "title": document.title,
            "genre": document.genre,
            "licence": "public-domain",
            "consent": "not-required",
        },
    )
