"""`TrainConfig`: every setting of a training run, read from a TOML (or YAML) recipe and overridden from the
command line with `--key=value` (dotted keys reach nested sections: `--optim.lr=3e-4`).

One dataclass per section (data, optim, schedule) inside one `TrainConfig`, as torchtune's recipes and
LitGPT's configs keep runs as plain data. Values are checked against the field types when the config is
built, so a typo or a bad value fails at once with a one-line `GlossaError`, never as a crash mid-run.
Override values are parsed as TOML literals (`--optim.betas=[0.9,0.95]`, `--deterministic=true`); anything
that does not parse is taken as a string.

YAML recipes need PyYAML; when it is not installed only TOML is read (and the error says so).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glossa.errors import GlossaError

OPTIMIZERS = ("sgd", "adam", "adamw", "muon")
SCHEDULES = ("constant", "cosine", "linear", "wsd")
PRECISIONS = ("fp32", "bf16", "fp16")
INITS = ("normal", "xavier", "kaiming")
PARALLELS = ("auto", "ddp", "fsdp")


@dataclass
class DataConfig:
    train: list[str] = field(default_factory=list)  # token shard paths (glossa.tokenizers.batch format)
    val: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    text_file: str = ""  # or: one UTF-8 text file, encoded with `tokenizer`, split train/val by val_fraction
    val_fraction: float = 0.1
    tokenizer: str = "bytes"  # "bytes" (ids = UTF-8 bytes, vocab 256) or any glossa.load_tokenizer source


@dataclass
class OptimConfig:
    name: str = "adamw"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    momentum: float = 0.9  # SGD momentum
    nesterov: bool = False
    muon_lr: float = 0.02  # Muon: learning rate of the 2-D block matrices
    muon_momentum: float = 0.95
    ns_steps: int = 5


@dataclass
class ScheduleConfig:
    kind: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1  # the decay ends at lr * min_lr_ratio
    decay_fraction: float = 0.2  # wsd: the last fraction of steps decays


@dataclass
class TrainConfig:
    model: Any = (
        "llama-tiny"  # a preset name or a ModelConfig dict (a preset name under "preset" + overrides)
    )
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int = 8  # sequences per micro-step, over all processes together
    seq_len: int = 64
    grad_accum: int = 1
    max_steps: int = 100
    grad_clip: float = 1.0  # 0 turns clipping off
    precision: str = "fp32"
    device: str = "auto"
    grad_checkpointing: bool = False
    init: str = "normal"
    out_dir: str = "runs/train"
    checkpoint_every: int = 0  # 0: only at the end
    keep_last: int = 2
    resume: bool = True
    eval_every: int = 0  # 0: only at the end
    eval_batches: int = 20
    patience: int = 0  # 0: no early stopping
    keep_best: bool = True  # with validation: end with the lowest validation loss's weights, not the last
    log_every: int = 10
    seed: int = 1337
    deterministic: bool = False
    threads: int = 0  # torch threads; 0 leaves torch's default
    parallel: str = "auto"  # under torchrun: ddp, or fsdp when asked
    peak_tflops: float = 0.0  # for MFU; 0 guesses from the device
    display: bool = True
    tokens: Any = field(default=None, repr=False)  # in-memory token array (tests); not from files

    def __post_init__(self) -> None:
        _choose("optim.name", self.optim.name, OPTIMIZERS)
        _choose("schedule.kind", self.schedule.kind, SCHEDULES)
        _choose("precision", self.precision, PRECISIONS)
        _choose("init", self.init, INITS)
        _choose("parallel", self.parallel, PARALLELS)
        for name in ("batch_size", "seq_len", "grad_accum", "max_steps", "eval_batches", "log_every"):
            if getattr(self, name) < 1:
                raise GlossaError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("checkpoint_every", "keep_last", "eval_every", "patience", "threads"):
            if getattr(self, name) < 0:
                raise GlossaError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.optim.lr <= 0:
            raise GlossaError(f"optim.lr must be positive, not {self.optim.lr}")
        if len(self.optim.betas) != 2 or not all(0 <= b < 1 for b in self.optim.betas):
            raise GlossaError(f"optim.betas must be two numbers in [0, 1), not {self.optim.betas}")
        if not 0 < self.data.val_fraction < 1:
            raise GlossaError(f"data.val_fraction must be in (0, 1), not {self.data.val_fraction}")
        if self.schedule.warmup_steps < 0 or not 0 <= self.schedule.min_lr_ratio <= 1:
            raise GlossaError("schedule.warmup_steps must be ≥ 0 and schedule.min_lr_ratio in [0, 1]")
        if self.grad_clip < 0:
            raise GlossaError(f"grad_clip must be 0 (off) or positive, not {self.grad_clip}")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(dataclasses.replace(self, tokens=None))
        values.pop("tokens")
        return values


def from_dict(values: dict[str, Any], cls: type = TrainConfig, prefix: str = "") -> Any:
    """Build a config dataclass from plain data, checking every key and value type."""
    if not isinstance(values, dict):
        raise GlossaError(f"{prefix.rstrip('.') or 'the config'} must be a table of settings, not {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise GlossaError(
            f"unknown setting {prefix}{unknown[0]}; known {prefix or 'settings'}: {', '.join(sorted(known))}"
        )
    built = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            built[name] = from_dict(value, kind, f"{prefix}{name}.")
        else:
            built[name] = _check(f"{prefix}{name}", value, kind)
    try:
        return cls(**built)
    except TypeError as error:
        raise GlossaError(f"bad config: {error}") from None


def _check(name: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise GlossaError(f"{name} must be a list, not {value!r}")
        return [_check(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GlossaError(f"{name} must be {kind.__name__}, not {value!r}")
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """`--key=value` (or `key=value`) → (dotted key, value parsed as a TOML literal, else the string)."""
    body = text[2:] if text.startswith("--") else text
    if "=" not in body:
        raise GlossaError(f"override {text!r} must look like --key=value")
    key, raw = body.split("=", 1)
    key = key.strip().replace("-", "_")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for text in overrides:
        key, value = parse_override(text)
        *parents, leaf = key.split(".")
        table = values
        for parent in parents:
            table = table.setdefault(parent, {})
            if not isinstance(table, dict):
                raise GlossaError(f"cannot set {key}: {parent} is not a section")
        table[leaf] = value
    return values


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GlossaError(f"no config file {path}: give the path of a TOML (or YAML) recipe, e.g. recipes/")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise GlossaError("YAML recipes need PyYAML, which is not installed: use a TOML recipe") from None
        try:
            values = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise GlossaError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
        return values
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GlossaError(f"{path} is not valid TOML: {error}") from None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """The run's config: the recipe file (if any) with the overrides applied, checked."""
    values = read_config_file(path) if path is not None else {}
    return from_dict(apply_overrides(values, list(overrides)))


def _choose(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise GlossaError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")
