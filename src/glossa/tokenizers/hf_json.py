"""HF `tokenizer.json`: read once, handed to the algorithm its `model.type` names.

The file (written by HF `tokenizers`, shipped with most models on the Hub) holds the whole pipeline:
normalizer, pre-tokenizer, model (vocabulary and merges or pieces), post-processor, decoder, added tokens.
The model type decides which of our classes can rebuild it:

    "BPE"        → `ByteLevelBPE` (bpe_files.py checks that the pipeline is the byte-level one we implement)
    "WordPiece"  → `WordPiece` (BERT, MiniLM)
    anything else ("Unigram", "WordLevel") → a GlossaError naming the type

    >>> tokenizer_from_hf_json(minilm_dir() / "tokenizer.json").encode("Hello, world!")
    [7592, 1010, 2088, 999]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glossa.errors import GlossaError
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.bpe_files import bpe_from_hf_tokenizer_json
from glossa.tokenizers.wordpiece import WordPiece

MAX_TOKENIZER_JSON_BYTES = 512 * 1024 * 1024


def read_tokenizer_json(path: str | Path) -> dict[str, Any]:
    """The parsed object of a tokenizer.json file; every failure is a one-line GlossaError."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TOKENIZER_JSON_BYTES:
            raise GlossaError(
                f"{path} is larger than {MAX_TOKENIZER_JSON_BYTES:,} bytes; not a tokenizer.json"
            )
        config = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise GlossaError(f"tokenizer file not found: {path}") from None
    except IsADirectoryError:
        raise GlossaError(f"{path} is a directory; give the path of a tokenizer.json file") from None
    except OSError as error:
        raise GlossaError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise GlossaError(f"{path} is not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise GlossaError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise GlossaError(f"{path} nests JSON too deeply to be a tokenizer.json") from None
    if not isinstance(config, dict):
        raise GlossaError(f"{path} holds a JSON {type(config).__name__}, not a tokenizer.json object")
    return config


def tokenizer_from_hf_json(path: str | Path) -> Tokenizer:
    """The tokenizer described by an HF tokenizer.json file."""
    path = Path(path)
    return tokenizer_from_hf_config(
        read_tokenizer_json(path), source=str(path), name=path.parent.name or "bpe"
    )


def tokenizer_from_hf_config(config: Mapping[str, Any], *, source: str, name: str = "bpe") -> Tokenizer:
    """Dispatch a parsed tokenizer.json object by `model.type` (`name` names a BPE; WordPiece has its own)."""
    model = config.get("model")
    model_type = model.get("type") if isinstance(model, Mapping) else None
    if model_type == "BPE":
        return bpe_from_hf_tokenizer_json(config, source=source, name=name)
    if model_type == "WordPiece":
        return WordPiece.from_tokenizer_config(config, source=source)
    if model_type is None:
        raise GlossaError(f"{source} has no model.type; is it an HF tokenizer.json?")
    raise GlossaError(
        f"{source} holds a {model_type!r} model; glossa loads tokenizer.json files of type BPE (byte-level) "
        "and WordPiece"
    )
