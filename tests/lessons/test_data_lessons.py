"""`glossa data-quality` and `glossa data-formats`: every planted fault is found by the stage meant for it,
and the same records come back from JSONL, Parquet, Arrow and TFRecord."""

import contextlib
import json

import pyarrow.parquet

from glossa.data.lessons.formats import format_lesson, sample_rows
from glossa.data.lessons.quality import mini_corpus, run_quality_lesson


def test_each_stage_finds_what_was_planted():
    corpus, stages, kept = run_quality_lesson()
    by_name = {stage.name: stage.counts for stage in stages}
    for name, (what, count) in corpus.expected().items():
        counts = by_name[name]
        found = counts.changed if what == "changed" else sum(counts.dropped.values())
        assert found == count, (name, counts.as_dict())
    assert by_name["clean"].details["boilerplate lines removed"] == corpus.planted["boilerplate"]
    assert by_name["pii"].details["email"] == corpus.planted["personal data"]
    assert len(kept) == len(corpus.records) - 4 - 3 - 3
    assert not any("@example.com" in record.text or "\r" in record.text for record in kept)


def test_the_mini_corpus_is_the_same_every_time():
    first, second = mini_corpus(), mini_corpus()
    assert [r.text for r in first.records] == [r.text for r in second.records]


def test_every_format_reads_back_the_same_records(tmp_path):
    rows = sample_rows()
    results = {result.name: result for result in format_lesson(tmp_path, rows)}
    assert set(results) == {"jsonl", "parquet", "arrow", "tfrecord"}
    assert all(result.identical and result.records == len(rows) for result in results.values())
    assert results["jsonl"].quarantined == 1  # the planted bad line, kept aside
    assert results["parquet"].size < results["jsonl"].size  # columnar and compressed
    # independent readers agree: the json module and pyarrow itself
    lines = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    parsed = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):
            parsed.append(json.loads(line)["text"])
    assert parsed == [row["text"] for row in rows]
    assert pyarrow.parquet.read_table(tmp_path / "records.parquet").column("text").to_pylist() == parsed


def test_data_formats_cli_keeps_files_when_asked(run_cli, tmp_path):
    result = run_cli("data-formats", "--out-dir", str(tmp_path / "kept"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.suffix for p in (tmp_path / "kept").iterdir()) == [
        ".arrow",
        ".jsonl",
        ".parquet",
        ".tfrecord",
    ]
