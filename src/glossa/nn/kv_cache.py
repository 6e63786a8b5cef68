"""The simplest KV cache: per layer, the keys and values of every position so far, grown by concatenation.

Autoregressive decoding feeds one new token at a time. Without a cache each step recomputes the keys and
values of the whole prefix; with one, each layer keeps them and the new token's attention reads them back, so
a step costs one token's worth of projections. This contiguous, grow-by-`torch.cat` cache is what the model
tests and simple loops use; an inference engine can bring its own (paged) cache, since attention needs only
the `update` call (`glossa.nn.attention.KVCacheLayer`).

    cache = KVCache(config.n_layers)
    logits = model(prompt_ids, cache=cache).logits          # prefill: fills every layer
    logits = model(next_id[:, None], cache=cache).logits    # decode: one position, cache.length grows by one
"""

from __future__ import annotations

import torch
from torch import Tensor


class LayerKVCache:
    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def update(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Append (batch, kv_heads, new, head_dim) keys and values; return everything cached."""
        if self.keys is None or self.values is None:
            self.keys, self.values = keys, values
        else:
            self.keys = torch.cat((self.keys, keys), dim=2)
            self.values = torch.cat((self.values, values), dim=2)
        return self.keys, self.values


class KVCache:
    def __init__(self, n_layers: int) -> None:
        self.layers = [LayerKVCache() for _ in range(n_layers)]

    @property
    def length(self) -> int:
        """Positions cached so far (the same in every layer)."""
        return self.layers[0].length
