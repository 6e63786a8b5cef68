"""Sentence embeddings: one vector per text, so that texts with similar meaning lie close together.

An encoder (all-MiniLM-L6-v2: a 6-layer BERT) gives one contextual vector per token; a sentence embedding
pools them into one vector and, usually, scales it to length 1. What to do is not guessed: it is read from the
sentence-transformers files next to the model, as sentence-transformers itself does —

    modules.json                 the pipeline: Transformer → Pooling → (Normalize)
    1_Pooling/config.json        which pooling: mean over the real tokens (MiniLM), CLS, max, or mean·√len
    sentence_bert_config.json    max_seq_length: longer texts are cut to this many tokens

Mean pooling averages only the real tokens (attention mask 1), never the padding of a batch. After
L2 normalisation, the dot product of two embeddings IS their cosine similarity, and the Euclidean distance
between them is √(2 − 2·cos): the two measures rank pairs the same way.

    >>> embedder = load_embedder("minilm")
    >>> vectors = embedder.embed(["a cat", "a dog", "an invoice"])
    >>> cosine_similarity_matrix(vectors)   # "a cat" is nearer "a dog" than "an invoice"
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.models.hf_io import read_json
from glossa.models.loading import load_model, resolve
from glossa.models.transformer import Transformer
from glossa.tokenizers.base import Tokenizer

POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
_POOLING_KEYS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}


def pool(hidden: Tensor, mask: Tensor, mode: str = "mean") -> Tensor:
    """One vector per sequence from token vectors `hidden` (batch, seq, d) and the 0/1 `mask` (batch, seq)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).max(dim=1).values
    summed = (hidden * weights).sum(dim=1)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    if mode == "mean":
        return summed / counts
    if mode == "mean_sqrt_len":
        return summed / counts.sqrt()
    raise GlossaError(f"unknown pooling {mode!r}: use one of {', '.join(POOLING_MODES)}")


def l2_normalize(vectors: Tensor) -> Tensor:
    return torch.nn.functional.normalize(vectors, p=2, dim=-1)


def cosine_similarity_matrix(a: Tensor, b: Tensor | None = None) -> Tensor:
    """cos(a_i, b_j) for every pair: the dot product of the normalised vectors."""
    b = a if b is None else b
    return l2_normalize(a) @ l2_normalize(b).T


def euclidean_distance_matrix(a: Tensor, b: Tensor | None = None) -> Tensor:
    """‖a_i − b_j‖ = sqrt(Σ_k (a_ik − b_jk)²) for every pair, summed in float64."""
    b = a if b is None else b
    differences = a.double()[:, None, :] - b.double()[None, :, :]
    return differences.square().sum(dim=-1).sqrt().to(a.dtype)


class SentenceEmbedder:
    """A text encoder plus its pooling recipe: `embed(texts)` -> (n, d) tensor."""

    def __init__(
        self,
        model: Transformer,
        tokenizer: Tokenizer,
        *,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int = 256,
        batch_size: int = 32,
    ) -> None:
        if model.config.architecture != "encoder":
            raise GlossaError("sentence embeddings need an encoder model (e.g. minilm)")
        if pooling not in POOLING_MODES:
            raise GlossaError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLING_MODES)}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.pooling, self.normalize = pooling, normalize
        self.max_length = min(max_length, model.config.context_length)
        self.batch_size = batch_size

    def token_ids(self, text: str) -> list[int]:
        """[CLS] text [SEP], cut to max_length tokens (keeping the final [SEP])."""
        ids = self.tokenizer.encode(text, add_special_tokens=True)
        if len(ids) > self.max_length:
            ids = ids[: self.max_length - 1] + ids[-1:]
        return ids

    @torch.no_grad()
    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> Tensor:
        """Embeddings of already tokenized sequences (each with its special tokens)."""
        outputs = []
        pad = self.tokenizer.pad_id if self.tokenizer.pad_id is not None else 0
        for start in range(0, len(sequences), self.batch_size):
            batch = sequences[start : start + self.batch_size]
            length = max(len(ids) for ids in batch)
            ids = torch.full((len(batch), length), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), length), dtype=torch.long)
            for row, sequence in enumerate(batch):
                ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
                mask[row, : len(sequence)] = 1
            hidden = self.model(ids, attention_mask=mask).last_hidden_state
            vectors = pool(hidden, mask, self.pooling)
            outputs.append(l2_normalize(vectors) if self.normalize else vectors)
        if not outputs:
            return torch.zeros(0, self.model.config.d_model)
        return torch.cat(outputs)

    def embed(self, texts: Sequence[str]) -> Tensor:
        if isinstance(texts, str):
            texts = [texts]
        return self.embed_ids([self.token_ids(text) for text in texts])


def sentence_transformers_recipe(directory: Path) -> dict[str, object]:
    """The pooling mode, normalisation and max length a sentence-transformers folder declares."""
    recipe: dict[str, object] = {"pooling": "mean", "normalize": False, "max_length": 512}
    if (directory / "modules.json").is_file():
        modules = read_json_list(directory / "modules.json")
        types = [str(module.get("type", "")) for module in modules]
        recipe["normalize"] = any(kind.endswith("Normalize") for kind in types)
        for module in modules:
            if str(module.get("type", "")).endswith("Pooling"):
                pooling = read_json(directory / str(module.get("path", "")) / "config.json")
                chosen = [mode for key, mode in _POOLING_KEYS.items() if pooling.get(key)]
                if len(chosen) != 1:
                    raise GlossaError(f"{directory}: one pooling mode expected, found {chosen or 'none'}")
                recipe["pooling"] = chosen[0]
    if (directory / "sentence_bert_config.json").is_file():
        recipe["max_length"] = int(
            read_json(directory / "sentence_bert_config.json").get("max_seq_length", 512)
        )
    return recipe


def read_json_list(path: Path) -> list[dict]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GlossaError(f"cannot read {path}: {error}") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise GlossaError(f"{path} must hold a JSON list of modules")
    return value


def load_embedder(source: str | Path = "minilm") -> SentenceEmbedder:
    """The sentence embedder of an HF/sentence-transformers folder (or a registered name such as `minilm`)."""
    from glossa.tokenizers.loading import load_tokenizer

    directory = resolve(source)
    if not directory.is_dir():
        raise GlossaError(f"{directory} is not a model folder: sentence embeddings need an encoder folder")
    recipe = sentence_transformers_recipe(directory)
    return SentenceEmbedder(
        load_model(directory),
        load_tokenizer(directory),
        pooling=str(recipe["pooling"]),
        normalize=bool(recipe["normalize"]),
        max_length=int(recipe["max_length"]),  # type: ignore[arg-type]
    )
