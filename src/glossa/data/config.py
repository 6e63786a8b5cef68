"""The `glossa data prepare` configuration: one dataclass per stage, read from TOML, every field overridable.

    [sources]     jsonl_field, id_field, text_unit (file|paragraph|line), tfrecord_format (example|text),
                  tfrecord_field, max_document_bytes, licence, consent (defaults for sources that say nothing)
    [governance]  allowed_licences ([] = any), allowed_consent
    [clean]       enabled, remove_boilerplate, boilerplate_min_fraction, boilerplate_min_documents,
                  boilerplate_min_chars
    [filters]     see glossa.data.filters.FilterConfig (Gopher-style thresholds, languages)
    [dedup]       exact, near, threshold, num_perm, bands, shingle_size, seed
    [pii]         enabled, kinds
    [split]       train, validation, test, salt
    [output]      tokenizer, shard_tokens, processes (stage and tokenizer workers; 0 = every core), parquet,
                  stats_max_bytes, limit_docs

A key that does not exist, or a value of the wrong type, is a one-line `GlossaError` naming the section and
key: a typo in a config file must not silently leave a default in place. `--set section.key=value` on the
command line overrides one field; the value is read as TOML (`0.7`, `true`, `["en"]`), else as a string.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glossa.data.filters import FilterConfig
from glossa.data.pii import PLACEHOLDERS
from glossa.data.records import CONSENT_STATES
from glossa.data.sources import TEXT_UNITS, SourceOptions
from glossa.data.split import SplitConfig
from glossa.errors import GlossaError


@dataclass(frozen=True)
class GovernanceConfig:
    allowed_licences: list[str] = field(default_factory=list)
    allowed_consent: list[str] = field(default_factory=lambda: ["granted", "not-required", "unknown"])


@dataclass(frozen=True)
class CleanConfig:
    enabled: bool = True
    remove_boilerplate: bool = True
    boilerplate_min_fraction: float = 0.5
    boilerplate_min_documents: int = 5
    boilerplate_min_chars: int = 20


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: bool = True
    threshold: float = 0.8
    num_perm: int = 128
    bands: int = 32
    shingle_size: int = 5
    seed: int = 1


@dataclass(frozen=True)
class PiiConfig:
    enabled: bool = True
    kinds: list[str] = field(default_factory=lambda: list(PLACEHOLDERS))


@dataclass(frozen=True)
class OutputConfig:
    tokenizer: str = "smollm2"
    shard_tokens: int = 10_000_000
    processes: int = 0
    parquet: bool = True
    stats_max_bytes: int = 16 * 1024 * 1024
    limit_docs: int = 0


@dataclass(frozen=True)
class PrepareConfig:
    sources: SourceOptions = field(default_factory=SourceOptions)
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def _check_type(where: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    elif isinstance(default, dict):
        ok = isinstance(value, dict) and all(
            isinstance(item, int | float) and not isinstance(item, bool) for item in value.values()
        )
        value = {str(key): float(item) for key, item in value.items()} if ok else value
    else:
        ok = True
    if not ok:
        kind = type(default).__name__ if not isinstance(default, list) else "list of strings"
        raise GlossaError(f"config {where} must be a {kind}, not {value!r}")
    return value


def config_from_dict(data: dict[str, Any]) -> PrepareConfig:
    """A checked `PrepareConfig` from nested {section: {key: value}} data."""
    defaults = PrepareConfig()
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section not in {f.name for f in dataclasses.fields(PrepareConfig)}:
            known = ", ".join(f.name for f in dataclasses.fields(PrepareConfig))
            raise GlossaError(f"unknown config section [{section}]; the sections are {known}")
        if not isinstance(values, dict):
            raise GlossaError(f"config [{section}] must be a table of keys, not {values!r}")
        default_section = getattr(defaults, section)
        known_keys = {f.name for f in dataclasses.fields(default_section)}
        checked = {}
        for key, value in values.items():
            if key not in known_keys:
                raise GlossaError(
                    f"unknown config key {section}.{key}; [{section}] has {', '.join(sorted(known_keys))}"
                )
            checked[key] = _check_type(f"{section}.{key}", value, getattr(default_section, key))
        sections[section] = dataclasses.replace(default_section, **checked)
    config = dataclasses.replace(defaults, **sections)
    validate(config)
    return config


def validate(config: PrepareConfig) -> None:
    """Values that have the right type but make no sense."""

    def need(condition: bool, message: str) -> None:
        if not condition:
            raise GlossaError(f"config {message}")

    need(config.sources.text_unit in TEXT_UNITS, f"sources.text_unit must be one of {', '.join(TEXT_UNITS)}")
    need(
        config.sources.tfrecord_format in ("example", "text"),
        "sources.tfrecord_format must be example or text",
    )
    need(config.sources.max_document_bytes > 0, "sources.max_document_bytes must be positive")
    for state in config.governance.allowed_consent:
        need(state in CONSENT_STATES, f"governance.allowed_consent: {state!r} is not one of {CONSENT_STATES}")
    need(0 <= config.clean.boilerplate_min_fraction <= 1, "clean.boilerplate_min_fraction must be in [0, 1]")
    need(0 < config.dedup.threshold <= 1, "dedup.threshold must be in (0, 1]")
    need(
        config.dedup.num_perm > 0 and config.dedup.bands > 0,
        "dedup.num_perm and dedup.bands must be positive",
    )
    need(config.dedup.num_perm % config.dedup.bands == 0, "dedup.num_perm must be a multiple of dedup.bands")
    need(config.dedup.shingle_size > 0, "dedup.shingle_size must be positive")
    for kind in config.pii.kinds:
        need(kind in PLACEHOLDERS, f"pii.kinds: {kind!r} is not one of {', '.join(PLACEHOLDERS)}")
    need(config.output.shard_tokens > 0, "output.shard_tokens must be positive")
    need(config.output.processes >= 0, "output.processes must be 0 (every core) or more")
    need(config.output.limit_docs >= 0, "output.limit_docs must be 0 (no limit) or more")
    for n in (*config.filters.max_top_ngram_char_fraction, *config.filters.max_duplicate_ngram_char_fraction):
        need(n.isdigit() and int(n) > 0, f"filters n-gram sizes must be positive integers, not {n!r}")


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> PrepareConfig:
    """The defaults, then the TOML file at `path`, then each `section.key=value` override."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GlossaError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise GlossaError(f"config file {path} is not valid TOML: {error}") from None
    for override in overrides or []:
        name, equals, value = override.partition("=")
        section, dot, key = name.strip().partition(".")
        if not equals or not dot:
            raise GlossaError(f"--set {override!r}: write section.key=value, e.g. dedup.threshold=0.7")
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise GlossaError(f"config [{section}] must be a table of keys")
        data[section][key] = _parse_value(value.strip())
    return config_from_dict(data)


def config_as_dict(config: PrepareConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
