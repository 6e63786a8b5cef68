"""Byte-level BPE on disk: glossa's own JSON, a human-readable `.vocab` listing, and HF `tokenizer.json`.

glossa's file holds exactly what `ByteLevelBPE` is built from, so loading it needs no guessing:

    {"format": "glossa-bpe", "version": 1, "name": "shakespeare", "pretokenizer": "gpt2",
     "vocab": ["!", "\\"", ..., "Ġthe"], "merges": [["Ġ", "t"], ["h", "e"], ...],
     "special_tokens": {"<|endoftext|>": 0}, "bos_id": null, "eos_id": 0, "pad_id": null,
     "add_bos": false, "chat_template": null}

`vocab` is in the byte-level alphabet (id = index), `merges` in rank order. Beside it, `save_bpe` writes
NAME.vocab for people: one line per id, the token's bytes as text (escaped like a Python bytes literal where
they are not printable UTF-8), and how a merged token was made, in the spirit of minbpe's .vocab file:

    273	" t"	= " " + "t"
    0	"<|endoftext|>"	special

HF `tokenizer.json` export writes a BPE model with the pre-tokenizer spelled the way HF spells ours (`gpt2`:
ByteLevel with its regex; `llama3`: Split on the GPT-4 pattern, then ByteLevel without regex; `smollm`: Digits
with individual digits, then ByteLevel) and a ByteLevel decoder, so `tokenizers.Tokenizer.from_file` gives the
same ids (tests check it). Import reads the same shapes back and refuses any other with a message saying why.
Every reading error is a one-line GlossaError; every file is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import regex

from glossa.atomic import atomic_write_text
from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE, vocab_from_pairs
from glossa.tokenizers.bytelevel import from_byte_level
from glossa.tokenizers.pretokenize import GPT2_PATTERN, LLAMA3_PATTERN, PRETOKENIZER_NAMES

FORMAT = "glossa-bpe"
VERSION = 1

# -- glossa's own file ----------------------------------------------------------------------------------


def bpe_to_dict(tokenizer: ByteLevelBPE) -> dict[str, Any]:
    """The JSON document of a tokenizer."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": tokenizer.name,
        "pretokenizer": tokenizer.pretokenizer,
        "vocab": tokenizer.vocab,
        "merges": [[left, right] for left, right in tokenizer.merges],
        "special_tokens": tokenizer.special_tokens,
        "bos_id": tokenizer.bos_id,
        "eos_id": tokenizer.eos_id,
        "pad_id": tokenizer.pad_id,
        "add_bos": tokenizer.add_bos,
        "chat_template": tokenizer.chat_template,
    }


def save_bpe(tokenizer: ByteLevelBPE, path: str | Path) -> Path:
    """Write `path` (glossa's JSON) and, beside it, the readable `.vocab` listing; return `path`."""
    path = Path(path)
    atomic_write_text(path, json.dumps(bpe_to_dict(tokenizer), ensure_ascii=False, indent=1) + "\n")
    write_vocab_file(tokenizer, vocab_file_path(path))
    return path


def vocab_file_path(path: str | Path) -> Path:
    """Where `save_bpe` puts the readable listing of `path`: the same name with the suffix `.vocab`."""
    return Path(path).with_suffix(".vocab")


def load_bpe(path: str | Path) -> ByteLevelBPE:
    """Read a tokenizer written by `save_bpe`."""
    path = Path(path)
    return bpe_from_dict(_read_json(path), source=str(path))


def bpe_from_dict(data: Any, *, source: str = "the tokenizer file") -> ByteLevelBPE:
    """A tokenizer from glossa's JSON document, every field checked."""
    if not isinstance(data, dict):
        raise GlossaError(f"{source} is not a glossa BPE file: expected a JSON object")
    if data.get("format") != FORMAT:
        raise GlossaError(
            f"{source} has format {data.get('format')!r}, not {FORMAT!r}: it is not a glossa BPE file "
            "(for an HF tokenizer.json use load_hf_tokenizer_json)"
        )
    if data.get("version") != VERSION:
        raise GlossaError(
            f"{source} is version {data.get('version')!r} of {FORMAT}; this glossa reads version {VERSION}"
        )
    field = _Fields(data, source)
    vocab = field.get("vocab", _is_list_of(str), "a list of strings")
    merges = field.get("merges", _is_list_of_pairs, "a list of [left, right] string pairs")
    pretokenizer = field.get(
        "pretokenizer", lambda v: v in PRETOKENIZER_NAMES, f"one of {PRETOKENIZER_NAMES}"
    )
    special_tokens = field.get("special_tokens", _is_str_to_int, "an object of token text to id", default={})
    return ByteLevelBPE(
        vocab,
        [(left, right) for left, right in merges],
        pretokenizer=pretokenizer,
        special_tokens=special_tokens,
        bos_id=field.get("bos_id", _is_optional_id, "an id or null", default=None),
        eos_id=field.get("eos_id", _is_optional_id, "an id or null", default=None),
        pad_id=field.get("pad_id", _is_optional_id, "an id or null", default=None),
        add_bos=field.get("add_bos", lambda v: isinstance(v, bool), "true or false", default=False),
        chat_template=field.get("chat_template", _is_optional_str, "a string or null", default=None),
        name=field.get("name", lambda v: isinstance(v, str), "a string", default="bpe"),
    )


# -- the readable .vocab listing ------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNESCAPE = regex.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\"ntr])')


def render_bytes(data: bytes) -> str:
    """Bytes as a quoted readable string: valid printable UTF-8 as text, the rest escaped (\\n, \\x04,
    \\u00a0 for a non-printable character, \\xe4 for a byte that is not valid UTF-8 here)."""
    rendered = []
    for char in data.decode("utf-8", errors="surrogateescape"):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not part of valid UTF-8
            rendered.append(f"\\x{code - 0xDC00:02x}")
        elif char in _ESCAPES:
            rendered.append(_ESCAPES[char])
        elif code < 0x80 and not char.isprintable():
            rendered.append(f"\\x{code:02x}")
        elif not char.isprintable():
            rendered.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            rendered.append(char)
    return '"' + "".join(rendered) + '"'


def unescape_bytes(rendered: str) -> bytes:
    """The bytes a `render_bytes` string stands for."""
    if len(rendered) < 2 or rendered[0] != '"' or rendered[-1] != '"':
        raise GlossaError(f"{rendered!r} is not a quoted token: expected text between double quotes")
    out = bytearray()
    position = 0
    body = rendered[1:-1]
    for match in _UNESCAPE.finditer(body):
        out += body[position : match.start()].encode("utf-8")
        escape = match.group(1)
        if escape[0] == "x":
            out.append(int(escape[1:], 16))
        elif escape[0] in "uU":
            out += chr(int(escape[1:], 16)).encode("utf-8", errors="surrogatepass")
        else:
            out += {"\\": b"\\", '"': b'"', "n": b"\n", "t": b"\t", "r": b"\r"}[escape]
        position = match.end()
    out += body[position:].encode("utf-8")
    return bytes(out)


def vocab_lines(tokenizer: ByteLevelBPE) -> list[str]:
    """The `.vocab` listing: id, bytes, and for a merged token its parts (from the first merge making it)."""
    made_from: dict[str, tuple[str, str]] = {}
    for left, right in tokenizer.merges:
        made_from.setdefault(left + right, (left, right))
    lines = [
        f"# {FORMAT} vocabulary of {tokenizer.name}: id, token bytes (quoted, escaped where not printable), "
        "and for a merged token the two tokens it was merged from"
    ]
    for token_id in range(tokenizer.vocab_size):
        if tokenizer.is_special(token_id):
            lines.append(f"{token_id}\t{render_bytes(tokenizer.id_to_token(token_id).encode())}\tspecial")
            continue
        line = f"{token_id}\t{render_bytes(tokenizer.token_bytes(token_id))}"
        parts = made_from.get(tokenizer.id_to_token(token_id))
        if parts is not None:
            left, right = (render_bytes(from_byte_level(part)) for part in parts)
            line += f"\t= {left} + {right}"
        lines.append(line)
    return lines


def write_vocab_file(tokenizer: ByteLevelBPE, path: str | Path) -> Path:
    """Write the readable listing to `path`."""
    return atomic_write_text(Path(path), "\n".join(vocab_lines(tokenizer)) + "\n")


# -- HF tokenizer.json -----------------------------------------------------------------------------------

_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
HF_PRE_TOKENIZERS: dict[str, dict[str, Any]] = {
    "gpt2": _BYTE_LEVEL,
    "llama3": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {**_BYTE_LEVEL, "use_regex": False},
        ],
    },
    "smollm": {
        "type": "Sequence",
        "pretokenizers": [{"type": "Digits", "individual_digits": True}, _BYTE_LEVEL],
    },
}


def to_hf_tokenizer_json(tokenizer: ByteLevelBPE) -> dict[str, Any]:
    """The tokenizer as an HF `tokenizer.json` document (BPE model, byte-level pre-tokenizer and decoder)."""
    added_tokens = [
        {
            "id": token_id,
            "content": text,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for text, token_id in sorted(tokenizer.special_tokens.items(), key=lambda item: item[1])
    ]
    model_vocab = {token: token_id for token_id, token in enumerate(tokenizer.vocab)}
    post_processor = None
    if tokenizer.add_bos and tokenizer.bos_id is not None:
        bos = tokenizer.id_to_token(tokenizer.bos_id)
        post_processor = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": bos, "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {bos: {"id": bos, "ids": [tokenizer.bos_id], "tokens": [bos]}},
        }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": HF_PRE_TOKENIZERS[tokenizer.pretokenizer],
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": tokenizer.ignore_merges,
            "vocab": model_vocab,
            "merges": [[left, right] for left, right in tokenizer.merges],
        },
    }


def save_hf_tokenizer_json(tokenizer: ByteLevelBPE, path: str | Path) -> Path:
    """Write the tokenizer as an HF `tokenizer.json`."""
    document = json.dumps(to_hf_tokenizer_json(tokenizer), ensure_ascii=False, indent=1)
    return atomic_write_text(Path(path), document + "\n")


def load_hf_tokenizer_json(path: str | Path, *, name: str | None = None) -> ByteLevelBPE:
    """Read an HF `tokenizer.json` that holds a byte-level BPE."""
    path = Path(path)
    return bpe_from_hf_tokenizer_json(
        _read_json(path), source=str(path), name=name or path.parent.name or "bpe"
    )


def bpe_from_hf_tokenizer_json(
    data: Any, *, source: str = "tokenizer.json", name: str = "bpe"
) -> ByteLevelBPE:
    """A `ByteLevelBPE` from an HF `tokenizer.json` document; anything it cannot represent is refused."""
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise GlossaError(f"{source} is not an HF tokenizer.json: expected an object with a 'model' object")
    model = data["model"]
    if model.get("type", "BPE") != "BPE":
        raise GlossaError(
            f"{source} holds a {model.get('type')!r} model, not BPE: load it with its own tokenizer"
        )
    for option in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(option):
            raise GlossaError(
                f"{source} sets {option}; byte-level BPE in glossa supports neither prefix nor suffix"
            )
    if model.get("byte_fallback"):
        raise GlossaError(
            f"{source} uses byte_fallback (SentencePiece-style BPE), which is not byte-level BPE"
        )
    if data.get("normalizer") is not None:
        raise GlossaError(
            f"{source} has a normalizer; glossa's byte-level BPE applies none, so ids would differ"
        )
    pretokenizer = _pretokenizer_name(data.get("pre_tokenizer"), source)
    vocab_object = model.get("vocab")
    if not _is_str_to_int(vocab_object):
        raise GlossaError(f"{source}: model.vocab must be an object of token to id")
    merges = [_hf_merge(merge, source) for merge in model.get("merges") or []]
    special_tokens: dict[str, int] = {}
    for added in data.get("added_tokens") or []:
        if not isinstance(added, dict) or not isinstance(added.get("content"), str):
            raise GlossaError(f"{source}: each added token must be an object with 'content' and 'id'")
        if not _is_optional_id(added.get("id")) or added.get("id") is None:
            raise GlossaError(f"{source}: added token {added['content']!r} has no valid id")
        special_tokens[added["content"]] = added["id"]
    bos_id = _template_bos(data.get("post_processor"), special_tokens)
    return ByteLevelBPE(
        vocab_from_pairs(vocab_object.items()),
        merges,
        pretokenizer=pretokenizer,
        special_tokens=special_tokens,
        bos_id=bos_id,
        add_bos=bos_id is not None,
        ignore_merges=bool(model.get("ignore_merges", False)),
        name=name,
    )


def _pretokenizer_name(spec: Any, source: str) -> str:
    """Which of our pre-tokenizers an HF pre_tokenizer object is (the shapes HF files use for them)."""
    if isinstance(spec, dict) and spec.get("type") == "ByteLevel" and spec.get("use_regex", True):
        if spec.get("add_prefix_space"):
            raise GlossaError(
                f"{source} adds a prefix space before byte-level pre-tokenizing; glossa does not"
            )
        return "gpt2"
    if isinstance(spec, dict) and spec.get("type") == "Sequence":
        steps = spec.get("pretokenizers") or []
        types = [step.get("type") if isinstance(step, dict) else None for step in steps]
        if (
            types == ["Digits", "ByteLevel"]
            and steps[0].get("individual_digits")
            and steps[1].get("use_regex", True)
        ):
            return "smollm"
        if types == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
            pattern = (steps[0].get("pattern") or {}).get("Regex")
            if pattern == LLAMA3_PATTERN and steps[0].get("behavior") == "Isolated":
                return "llama3"
            if pattern == GPT2_PATTERN and steps[0].get("behavior") == "Isolated":
                return "gpt2"
    raise GlossaError(
        f"{source} has a pre-tokenizer glossa does not know ({json.dumps(spec)[:120]}); "
        f"supported: the byte-level shapes of {', '.join(PRETOKENIZER_NAMES)}"
    )


def _hf_merge(merge: Any, source: str) -> tuple[str, str]:
    if isinstance(merge, str) and merge.count(" ") == 1:
        left, right = merge.split(" ")
        return left, right
    if isinstance(merge, list) and len(merge) == 2 and all(isinstance(part, str) for part in merge):
        return merge[0], merge[1]
    raise GlossaError(f"{source}: merge {merge!r} is neither 'left right' nor [left, right]")


def _template_bos(post_processor: Any, special_tokens: Mapping[str, int]) -> int | None:
    """The BOS id a TemplateProcessing post-processor puts before a single sequence, if any."""
    if not isinstance(post_processor, dict) or post_processor.get("type") != "TemplateProcessing":
        return None
    single = post_processor.get("single") or []
    if len(single) >= 2 and isinstance(single[0], dict) and "SpecialToken" in single[0]:
        return special_tokens.get(single[0]["SpecialToken"].get("id"))
    return None


# -- reading helpers ---------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise GlossaError(f"{path} does not exist or is not a file: give the path of a tokenizer file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GlossaError(f"{path} is not valid JSON ({error}): write it again with save_bpe") from None


class _Fields:
    """Checked access to a JSON object's fields; a missing or wrong field is a GlossaError naming it."""

    _MISSING = object()

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def get(self, key: str, valid: Callable[[Any], bool], expected: str, default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is self._MISSING:
                raise GlossaError(f"{self.source} has no {key!r} field: it is incomplete, write it again")
            return default
        value = self.data[key]
        if not valid(value):
            raise GlossaError(f"{self.source}: {key!r} must be {expected}, not {json.dumps(value)[:60]}")
        return value


def _is_list_of(kind: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _is_list_of_pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
        for pair in value
    )


def _is_str_to_int(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, int) and not isinstance(item, bool)
        for key, item in value.items()
    )


def _is_optional_id(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _is_optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)
