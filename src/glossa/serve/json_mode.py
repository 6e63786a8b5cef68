"""`response_format: {"type": "json_object"}`: allow only the tokens that keep the output a valid JSON prefix.

A JSON object is a context-free language, so the recogniser is a pushdown automaton over BYTES (a byte-level
BPE token may hold half a UTF-8 character; inside a string any byte ≥ 0x80 is fine, outside one only ASCII
is). Its state is an immutable tuple `(mode, stack, aux)`: `stack` the open containers as a string such as
"{[", `aux` the bytes a literal still needs or the hex digits a \\u escape still needs. `advance(state, byte)`
is the whole grammar; None means the byte cannot continue a valid document.

Per step the mask is: every token whose bytes all advance from the current state, plus EOS when the object
is complete (and then nothing else). Walking 49k tokens byte by byte costs ~0.2 s, so the tokens sit in a
byte trie (shared prefixes are advanced once, a rejected byte prunes the whole subtree) and masks are cached
by state: generating inside a string revisits the same state over and over. At most one whitespace byte in a
row is allowed between tokens of the grammar, so a model cannot stall in an endless run of spaces.

    >>> processor = JsonObjectProcessor(JsonMaskBuilder.for_tokenizer(tokenizer))
    >>> SamplingParams(logits_processors=(processor,))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from glossa.tokenizers.base import Tokenizer

State = tuple[str, str, str]
START: State = ("start", "", "")
WHITESPACE = frozenset(b" \t\n\r")
DIGITS = frozenset(b"0123456789")
HEX = frozenset(b"0123456789abcdefABCDEF")
LITERALS = {ord("t"): "rue", ord("f"): "alse", ord("n"): "ull"}
ESCAPES = frozenset(b'"\\/bfnrt')
_NUMBER_END = {"n_zero", "n_int", "n_frac", "n_exp"}


def _after_value(stack: str) -> State:
    return ("done", "", "") if not stack else ("after_value", stack, "")


def _value_start(byte: int, stack: str) -> State | None:
    if byte == ord("{"):
        return ("key_or_close", stack + "{", "")
    if byte == ord("["):
        return ("value_or_close", stack + "[", "")
    if byte == ord('"'):
        return ("string", stack, "")
    if byte == ord("-"):
        return ("n_minus", stack, "")
    if byte == ord("0"):
        return ("n_zero", stack, "")
    if byte in DIGITS:
        return ("n_int", stack, "")
    if byte in LITERALS:
        return ("literal", stack, LITERALS[byte])
    return None


def _after_value_byte(byte: int, stack: str) -> State | None:
    top = stack[-1]
    if byte == ord(","):
        return ("key", stack, "") if top == "{" else ("value", stack, "")
    if (byte == ord("}") and top == "{") or (byte == ord("]") and top == "["):
        return _after_value(stack[:-1])
    return None


def _number(mode: str, byte: int, stack: str) -> State | None:
    if mode == "n_minus":
        return ("n_zero", stack, "") if byte == ord("0") else ("n_int", stack, "") if byte in DIGITS else None
    if byte in DIGITS and mode in ("n_int", "n_dot", "n_frac", "n_e", "n_esign", "n_exp"):
        return (
            "n_frac" if mode in ("n_dot", "n_frac") else "n_exp" if mode != "n_int" else "n_int",
            stack,
            "",
        )
    if byte == ord(".") and mode in ("n_zero", "n_int"):
        return ("n_dot", stack, "")
    if byte in b"eE" and mode in ("n_zero", "n_int", "n_frac"):
        return ("n_e", stack, "")
    if byte in b"+-" and mode == "n_e":
        return ("n_esign", stack, "")
    if mode in _NUMBER_END:  # the number ended: this byte belongs to what follows it
        return advance(("after_value", stack, ""), byte)
    return None


def advance(state: State, byte: int) -> State | None:
    """The state after one more byte, or None if no valid JSON object starts with the bytes so far + it."""
    mode, stack, aux = state
    if mode.startswith("string"):
        return _string(mode, stack, aux, byte)
    if mode.startswith("n_"):
        return _number(mode, byte, stack)
    if mode == "literal":
        if byte != ord(aux[0]):
            return None
        return ("literal", stack, aux[1:]) if len(aux) > 1 else _after_value(stack)
    if byte in WHITESPACE:
        return None if aux == "ws" or mode in ("start", "done") else (mode, stack, "ws")
    if mode == "start":
        return ("key_or_close", "{", "") if byte == ord("{") else None
    if mode in ("key_or_close", "key"):
        if byte == ord('"'):
            return ("string_key", stack, "")
        return _after_value(stack[:-1]) if mode == "key_or_close" and byte == ord("}") else None
    if mode == "colon":
        return ("value", stack, "") if byte == ord(":") else None
    if mode == "value_or_close" and byte == ord("]"):
        return _after_value(stack[:-1])
    if mode in ("value", "value_or_close"):
        return _value_start(byte, stack)
    if mode == "after_value":
        return _after_value_byte(byte, stack)
    return None  # "done": nothing may follow the object


def _string(mode: str, stack: str, aux: str, byte: int) -> State | None:
    """Inside a string (`string_key` for object keys); aux: "\\" after a backslash, "u"×k in a \\u escape."""
    if aux.startswith("u"):
        return (mode, stack, aux[1:]) if byte in HEX else None
    if aux == "\\":
        if byte == ord("u"):
            return (mode, stack, "uuuu")
        return (mode, stack, "") if byte in ESCAPES else None
    if byte == ord('"'):
        return ("colon", stack, "") if mode == "string_key" else _after_value(stack)
    if byte == ord("\\"):
        return (mode, stack, "\\")
    return None if byte < 0x20 else (mode, stack, "")


def advance_bytes(state: State | None, data: bytes) -> State | None:
    for byte in data:
        if state is None:
            return None
        state = advance(state, byte)
    return state


class JsonMaskBuilder:
    """Allowed-token masks for one tokenizer, computed through a byte trie and cached by automaton state."""

    def __init__(self, tokenizer: Tokenizer, cache_size: int = 256) -> None:
        self.vocab_size = tokenizer.vocab_size
        self.eos_id = tokenizer.eos_id
        self.token_bytes = [tokenizer.token_bytes(token_id) for token_id in range(self.vocab_size)]
        self._trie: dict = {}
        for token_id, data in enumerate(self.token_bytes):
            if data:  # special tokens have no bytes and are never allowed (EOS is added when complete)
                node = self._trie
                for byte in data:
                    node = node.setdefault(byte, {})
                node.setdefault(None, []).append(token_id)
        self._cache: OrderedDict[State, Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    _shared: ClassVar[dict[int, JsonMaskBuilder]] = {}

    @classmethod
    def for_tokenizer(cls, tokenizer: Tokenizer) -> JsonMaskBuilder:
        """One builder per tokenizer object (the trie takes a moment to build)."""
        with _BUILD_LOCK:
            builder = cls._shared.get(id(tokenizer))
            if builder is None:
                builder = cls._shared[id(tokenizer)] = cls(tokenizer)
            return builder

    def state_after(self, output_ids: Sequence[int]) -> State | None:
        state: State | None = START
        for token_id in output_ids:
            if 0 <= token_id < self.vocab_size:
                state = advance_bytes(state, self.token_bytes[token_id])
        return state

    def mask(self, state: State | None) -> Tensor:
        """Bool [V]: True for the tokens allowed next."""
        if state is None:  # cannot happen when every step was masked; end the output rather than loop
            return self._only_eos()
        with self._lock:
            if state in self._cache:
                self._cache.move_to_end(state)
                return self._cache[state]
        if state[0] == "done":
            allowed = self._only_eos()
        else:
            allowed = torch.zeros(self.vocab_size, dtype=torch.bool)
            ids: list[int] = []
            self._walk(self._trie, state, ids)
            allowed[ids] = True
        with self._lock:
            self._cache[state] = allowed
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return allowed

    def _walk(self, node: dict, state: State, ids: list[int]) -> None:
        stack = [(node, state)]
        while stack:
            node, state = stack.pop()
            for byte, child in node.items():
                if byte is None:
                    ids.extend(child)
                    continue
                after = advance(state, byte)
                if after is not None:
                    stack.append((child, after))

    def _only_eos(self) -> Tensor:
        allowed = torch.zeros(self.vocab_size, dtype=torch.bool)
        if self.eos_id is not None:
            allowed[self.eos_id] = True
        return allowed


_BUILD_LOCK = threading.Lock()


class JsonObjectProcessor:
    """A logits processor (see `SamplingParams.logits_processors`): -inf for every token that would break
    the JSON object. Stateless: it re-reads the output ids each step, so a request's n samples share it."""

    def __init__(self, builder: JsonMaskBuilder) -> None:
        self.builder = builder

    def __call__(self, output_ids: Sequence[int], logits: Tensor) -> Tensor:
        allowed = self.builder.mask(self.builder.state_after(output_ids))
        return logits.masked_fill(~allowed[: logits.shape[-1]].to(logits.device), float("-inf"))
