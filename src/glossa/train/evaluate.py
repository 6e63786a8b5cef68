"""Loss, perplexity and bits per byte (seed §4 Cross-Entropy, NLL, Bits per Byte; §11 Perplexity).

The language-modelling loss is the mean cross-entropy, i.e. the mean negative log-likelihood (in nats) of each
target token under the model; minimising it is maximum-likelihood estimation. Perplexity is e^loss: the number
of equally likely tokens the model is as unsure as. Both depend on the vocabulary, so two tokenizers cannot be
compared with them. Bits per byte can: the total surprise in bits divided by the UTF-8 bytes of the text,

    bpb = Σ nats(target) / (ln 2 · Σ bytes(target))

as nanochat's evaluate_bpb computes it; tokens that stand for no bytes (special tokens) count in neither sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def token_byte_lengths(tokenizer, vocab_size: int | None = None) -> Tensor:
    """UTF-8 byte count of every token id (0 for special tokens)."""
    n = vocab_size or tokenizer.vocab_size
    lengths = []
    for token_id in range(n):
        try:
            lengths.append(len(tokenizer.token_bytes(token_id)))
        except (KeyError, IndexError, ValueError):
            lengths.append(0)
    return torch.tensor(lengths, dtype=torch.int64)


def bits_per_byte(total_nats: float, total_bytes: int) -> float:
    return total_nats / (math.log(2) * total_bytes) if total_bytes else float("nan")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    byte_lengths: Tensor | None = None,
    autocast=None,
    device: str = "cpu",
) -> dict[str, float]:
    """Mean loss, perplexity (and bits per byte given the tokens' byte lengths) over `batches`."""
    was_training = model.training
    model.eval()
    nats = count = 0.0
    bpb_nats, total_bytes = 0.0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        with autocast() if autocast else _null():
            logits = model(x).logits
        losses = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        nats += losses.sum().item()
        count += losses.numel()
        if byte_lengths is not None:
            lengths = byte_lengths.to(y.device)[y.flatten()]
            bpb_nats += losses[lengths > 0].sum().item()
            total_bytes += int(lengths.sum().item())
    model.train(was_training)
    loss = nats / max(count, 1)
    result = {"loss": loss, "perplexity": math.exp(min(loss, 700)), "tokens": int(count)}
    if byte_lengths is not None:
        result["bpb"] = bits_per_byte(bpb_nats, total_bytes)
    return result


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
