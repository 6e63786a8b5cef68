"""Session fixtures of the real artifacts the tokenizer tests share: each is built once per test run.

- `smollm2_gguf_path`, `minilm_dir`: where the packaged SmolLM2 GGUF and MiniLM folder are.
- `smollm2_gguf_reader`: the `gguf` package's reader (gguf-py, llama.cpp's own) on that file, the oracle of
  our GGUF reader.
- `smollm2_reference`: the oracle for SmolLM2's tokenizer, HF `tokenizers` over the GGUF's own vocabulary
  and merges (read with the `gguf` package, not with our reader) and the pre-tokenizer SmolLM2 declares,
  `Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]`, with the ByteLevel decoder.
  This agrees with llama.cpp; transformers' own GGUF loader drops the digit split, so it is not the oracle.
  Special tokens are not added to it, so "<|im_start|>" in a text is ordinary text, as in `encode(text)`.
- `smollm2_transformers`: transformers' own tokenizer for the GGUF (`AutoTokenizer.from_pretrained(folder,
  gguf_file=name)`, several seconds): the oracle of chat templates, not of ids (it drops the digit split).
- `tinyshakespeare_path`: the 1,115,394-byte benchmark text, outside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TINYSHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture(scope="session")
def smollm2_gguf_path() -> Path:
    from glossa.artifacts import smollm2_gguf

    return smollm2_gguf()


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from glossa.artifacts import minilm_dir as packaged_minilm_dir

    return packaged_minilm_dir()


@pytest.fixture(scope="session")
def tinyshakespeare_path() -> Path:
    assert TINYSHAKESPEARE.is_file(), f"tiny Shakespeare is missing at {TINYSHAKESPEARE}"
    return TINYSHAKESPEARE


@pytest.fixture(scope="session")
def smollm2_gguf_reader(smollm2_gguf_path):
    import gguf

    return gguf.GGUFReader(smollm2_gguf_path)


@pytest.fixture(scope="session")
def smollm2_reference(smollm2_gguf_reader):
    """HF `tokenizers.Tokenizer` with SmolLM2's vocabulary, merges and pre-tokenizer (see the docstring)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    reader = smollm2_gguf_reader
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(merge.split(" ")) for merge in reader.fields["tokenizer.ggml.merges"].contents()]
    reference = Tokenizer(models.BPE(vocab={token: i for i, token in enumerate(tokens)}, merges=merges))
    reference.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    reference.decoder = decoders.ByteLevel()
    return reference


@pytest.fixture(scope="session")
def smollm2_transformers(smollm2_gguf_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_gguf_path.parent), gguf_file=smollm2_gguf_path.name)
