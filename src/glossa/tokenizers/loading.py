"""`load_tokenizer(source)`: one entry point for every tokenizer glossa can read.

A source is, in the order they are tried:

- a registered name: `smollm2` (the tokenizer in the SmolLM2-135M-Instruct GGUF) or `minilm` (the
  all-MiniLM-L6-v2 folder);
- a directory in HF layout: its `tokenizer.json` if it has one (the whole pipeline), else its `vocab.txt`
  (BERT WordPiece with BERT's defaults);
- a GGUF file (by its magic bytes, whatever its name): the tokenizer in its metadata;
- a `vocab.txt` (or any .txt): a WordPiece vocabulary;
- a JSON file: glossa's own tokenizer files (`"format": "glossa-bpe"` or `"glossa-unigram"`), or else an HF
  `tokenizer.json`.

Building SmolLM2's tokenizer reads 98,000 strings and ranks 49,000 merges (about half a second), and every
command, test and server start wants it, so loaded tokenizers are cached per resolved file, keyed also by the
file's size and modification time so an edited file is read again. The cached object is shared: treat it as
read-only.

    >>> load_tokenizer("smollm2").encode("Hello world 123")
    [19556, 905, 216, 33, 34, 35]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from glossa.artifacts import minilm_dir, smollm2_gguf
from glossa.errors import GlossaError
from glossa.formats.gguf import MAGIC as GGUF_MAGIC
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.bpe_files import FORMAT as BPE_FORMAT
from glossa.tokenizers.bpe_files import bpe_from_dict
from glossa.tokenizers.gguf_tokenizer import tokenizer_from_gguf
from glossa.tokenizers.hf_json import read_tokenizer_json, tokenizer_from_hf_config
from glossa.tokenizers.unigram import FORMAT as UNIGRAM_FORMAT
from glossa.tokenizers.unigram import Unigram
from glossa.tokenizers.wordpiece import WordPiece

REGISTERED: dict[str, Callable[[], Path]] = {"smollm2": smollm2_gguf, "minilm": minilm_dir}
ACCEPTED = (
    f"a registered name ({', '.join(REGISTERED)}), a .gguf file, an HF model folder (with tokenizer.json or "
    "vocab.txt), a tokenizer.json, a vocab.txt, or a glossa tokenizer .json"
)


def load_tokenizer(source: str | Path) -> Tokenizer:
    """The tokenizer named by `source` (see the module docstring); cached per file."""
    file = tokenizer_file(source)
    status = file.stat()
    tokenizer = _load_file(file, status.st_size, status.st_mtime_ns)
    if isinstance(source, str) and source in REGISTERED:
        tokenizer.name = source  # "minilm", not the class default "wordpiece"
    return tokenizer


def tokenizer_file(source: str | Path) -> Path:
    """The resolved file a source stands for (a folder's tokenizer.json or vocab.txt)."""
    if isinstance(source, str) and source in REGISTERED:
        path = REGISTERED[source]()
    else:
        path = Path(source).expanduser()
        try:
            found = path.exists()
        except (OSError, ValueError):  # a NUL byte or an over-long name
            found = False
        if not found:
            raise GlossaError(f"no tokenizer named or found at {str(source)!r}: give {ACCEPTED}")
    path = path.resolve()
    if path.is_dir():
        for name in ("tokenizer.json", "vocab.txt"):
            if (path / name).is_file():
                return path / name
        raise GlossaError(f"{path} has neither tokenizer.json nor vocab.txt: give {ACCEPTED}")
    return path


@functools.cache
def _load_file(path: Path, size: int, mtime_ns: int) -> Tokenizer:
    if _starts_with(path, GGUF_MAGIC):
        return tokenizer_from_gguf(path)
    if path.suffix.lower() == ".txt":
        return WordPiece.from_vocab_txt(path)
    if path.suffix.lower() == ".json":
        config = read_tokenizer_json(path)
        file_format = config.get("format")
        if file_format == BPE_FORMAT:
            return bpe_from_dict(config, source=str(path))
        if file_format == UNIGRAM_FORMAT:
            return Unigram.load(path)
        if file_format is not None:
            raise GlossaError(f"{path} is a {file_format!r} file, not a tokenizer: give {ACCEPTED}")
        return tokenizer_from_hf_config(config, source=str(path), name=path.parent.name or "bpe")
    raise GlossaError(f"{path} is not a tokenizer file glossa knows: give {ACCEPTED}")


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(magic)) == magic
    except OSError as error:
        raise GlossaError(f"cannot read {path}: {error.strerror or error}") from None
