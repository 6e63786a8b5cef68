"""`SamplingParams`: how one request wants its next tokens chosen, checked once at the door.

Every field follows the OpenAI/vLLM name and meaning, so a server can copy a request body straight in:

    >>> SamplingParams(temperature=0.7, top_p=0.9, max_tokens=64, stop=["\\n\\n"]).is_greedy
    False
    >>> SamplingParams(top_p=1.5)
    Traceback (most recent call last):
    ...
    glossa.errors.GlossaError: top_p must be in (0, 1], got 1.5

Validation happens in `__post_init__`, so an invalid object never exists; each bad value raises a one-line
`GlossaError` that names the field and its allowed range. The limits a deployment may tune (largest `n`, how
many stop strings, how large a logit bias) live in `SamplingLimits`, passed as `limits=`; everything else is a
property of the mathematics (a probability is in (0, 1]) and is fixed. Comparisons are written in the positive
form (`0 < top_p <= 1`) so that NaN fails them too.

`logits_processors` is the one open hook (vLLM's per-request logits processors): callables
`(output ids so far, logits row) -> logits row` run on the raw logits before bias, penalties and sampling — a
server uses it to allow only the tokens that keep the output a valid JSON prefix. Requests that carry one are
never drafted for by speculative decoding, whose verification would bypass it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

from glossa.errors import GlossaError


@dataclass(frozen=True)
class SamplingLimits:
    """The bounds a deployment sets; the defaults are OpenAI's where it has one."""

    max_n: int = 16
    max_beam_width: int = 16
    max_stop: int = 8
    max_stop_length: int = 256
    max_stop_token_ids: int = 64
    max_logit_bias_entries: int = 1024
    max_abs_logit_bias: float = 100.0
    max_logprobs: int = 20
    max_tokens: int = 1 << 20


DEFAULT_LIMITS = SamplingLimits()

LogitsProcessor = Callable[[Sequence[int], "Tensor"], "Tensor"]


def _fail(message: str) -> None:
    raise GlossaError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if not (_is_int(value) and low <= value <= high):
        _fail(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def validate_stop(stop: Any, limits: SamplingLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    """`stop` as a tuple of non-empty strings; a single string counts as a list of one (as OpenAI allows)."""
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list | tuple):
        _fail(f"stop must be a string or a list of strings, got {type(stop).__name__}")
    if len(stop) > limits.max_stop:
        _fail(f"stop must hold at most {limits.max_stop} strings, got {len(stop)}")
    for item in stop:
        if not isinstance(item, str):
            _fail(f"stop must be a list of strings, got an item of type {type(item).__name__}")
        if not 1 <= len(item) <= limits.max_stop_length:
            _fail(f"each stop string must be 1 to {limits.max_stop_length} characters long, got {len(item)}")
    return tuple(stop)


@dataclass(frozen=True)
class SamplingParams:
    """One request's decoding settings (see the module docstring). `temperature=0` means greedy."""

    n: int = 1
    best_of: int | None = None
    temperature: float = 1.0
    top_k: int = 0  # 0 or -1: off
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: dict[int, float] | None = None
    stop: tuple[str, ...] | list[str] | str | None = ()
    stop_token_ids: tuple[int, ...] | list[int] | None = ()
    ignore_eos: bool = False
    max_tokens: int = 16
    seed: int | None = None
    logprobs: int | None = None  # None: no alternatives; k: the chosen token plus the k most likely
    use_beam_search: bool = False
    beam_width: int = 1
    length_penalty: float = 1.0
    early_stopping: bool | str = False  # True, False or "never", as in transformers
    limits: SamplingLimits = field(default=DEFAULT_LIMITS, repr=False, compare=False)
    # (output ids so far, logits row [V]) -> logits row: e.g. a mask that keeps the output valid JSON
    logits_processors: tuple[LogitsProcessor, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        limits = self.limits
        _int_in("n", self.n, 1, limits.max_n)
        if self.best_of is not None:
            _int_in("best_of", self.best_of, self.n, limits.max_n)
        if not (_is_number(self.temperature) and self.temperature >= 0):
            _fail(f"temperature must be a finite number >= 0 (0 = greedy), got {self.temperature!r}")
        if not (_is_int(self.top_k) and self.top_k >= -1):
            _fail(f"top_k must be an integer >= 1, or 0 or -1 to turn it off, got {self.top_k!r}")
        if not (_is_number(self.top_p) and 0 < self.top_p <= 1):
            _fail(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not (_is_number(self.min_p) and 0 <= self.min_p < 1):
            _fail(f"min_p must be in [0, 1), got {self.min_p!r}")
        if not (_is_number(self.repetition_penalty) and self.repetition_penalty > 0):
            _fail(
                f"repetition_penalty must be a finite number > 0 (1 = off), got {self.repetition_penalty!r}"
            )
        for name in ("frequency_penalty", "presence_penalty"):
            value = getattr(self, name)
            if not (_is_number(value) and -2 <= value <= 2):
                _fail(f"{name} must be in [-2, 2], got {value!r}")
        object.__setattr__(self, "logit_bias", self._checked_logit_bias())
        object.__setattr__(self, "stop", validate_stop(self.stop, limits))
        object.__setattr__(self, "stop_token_ids", self._checked_stop_token_ids())
        if not isinstance(self.ignore_eos, bool):
            _fail(f"ignore_eos must be true or false, got {self.ignore_eos!r}")
        _int_in("max_tokens", self.max_tokens, 1, limits.max_tokens)
        if self.seed is not None and not (_is_int(self.seed) and -(1 << 63) <= self.seed < (1 << 64)):
            _fail(f"seed must be an integer in [-2**63, 2**64), got {self.seed!r}")
        if self.logprobs is not None:
            _int_in("logprobs", self.logprobs, 0, limits.max_logprobs)
        self._check_beam(limits)
        processors = tuple(self.logits_processors or ())
        if not all(callable(processor) for processor in processors):
            _fail("logits_processors must be callables (output ids, logits row) -> logits row")
        object.__setattr__(self, "logits_processors", processors)

    def _checked_logit_bias(self) -> dict[int, float] | None:
        bias, limits = self.logit_bias, self.limits
        if bias is None:
            return None
        if not isinstance(bias, dict):
            _fail(f"logit_bias must be a mapping of token id to bias, got {type(bias).__name__}")
        if len(bias) > limits.max_logit_bias_entries:
            _fail(f"logit_bias must hold at most {limits.max_logit_bias_entries} entries, got {len(bias)}")
        checked: dict[int, float] = {}
        bound = limits.max_abs_logit_bias
        for key, value in bias.items():
            token_id = int(key) if isinstance(key, str) and key.isdigit() else key  # JSON object keys
            if not (_is_int(token_id) and token_id >= 0):
                _fail(f"logit_bias keys must be token ids (integers >= 0), got {key!r}")
            if not (_is_number(value) and -bound <= value <= bound):
                _fail(f"logit_bias values must be in [-{bound:g}, {bound:g}], got {value!r} for token {key}")
            checked[token_id] = float(value)
        return checked

    def _checked_stop_token_ids(self) -> tuple[int, ...]:
        ids = self.stop_token_ids or ()
        if not isinstance(ids, list | tuple):
            _fail(f"stop_token_ids must be a list of token ids, got {type(ids).__name__}")
        if len(ids) > self.limits.max_stop_token_ids:
            _fail(f"stop_token_ids must hold at most {self.limits.max_stop_token_ids} ids, got {len(ids)}")
        for token_id in ids:
            if not (_is_int(token_id) and token_id >= 0):
                _fail(f"stop_token_ids must be integers >= 0, got {token_id!r}")
        return tuple(ids)

    def _check_beam(self, limits: SamplingLimits) -> None:
        if not isinstance(self.use_beam_search, bool):
            _fail(f"use_beam_search must be true or false, got {self.use_beam_search!r}")
        _int_in("beam_width", self.beam_width, 1, limits.max_beam_width)
        if not _is_number(self.length_penalty):
            _fail(f"length_penalty must be a finite number, got {self.length_penalty!r}")
        if self.early_stopping not in (True, False, "never"):
            _fail(f"early_stopping must be true, false or 'never', got {self.early_stopping!r}")
        if self.use_beam_search and self.n > self.beam_width:
            _fail(f"n must be at most beam_width ({self.beam_width}) with beam search, got {self.n}")

    @property
    def is_greedy(self) -> bool:
        """Temperature 0 (or top_k 1): the argmax, no randomness."""
        return self.temperature == 0 or self.top_k == 1
