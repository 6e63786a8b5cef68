"""A fast single-sequence decoder for Llama-family models: `greedy_generate(model, ids, max_new_tokens)`.

At batch 1 on a CPU a decoding step is small: ~2 flops per weight, ~10 µs of framework overhead per torch op.
After int4 weights (`glossa.infer.quantized`) made the matmuls cheap, the time goes to the number of ops, so
this path is the model's forward rewritten for one sequence with as few ops per layer as it can:

- Q, K and V are ONE matmul (their int4 weights concatenated row-wise) and gate+up another;
- the attention scale 1/√64 = 1/8 is folded into the query rows of the weights (a power of two: exact);
- RoPE is `q·cos + roll(q, d/2)·sin'` with the sign of rotate-half folded into sin' (queries and keys of
  all heads in one op), from tables built once;
- the KV cache is preallocated (layers, kv_heads, max_length, head_dim) with `empty` (pages are touched
  only as positions are written): a step writes one column in place, nothing is re-created per step;
- decode attention is two grouped `bmm`s over the cached keys (each KV head's query heads as rows, so GQA
  needs no copy); torch's fused SDPA costs ~255 µs per call at query length 1;
- RMSNorm is torch's fused `rms_norm`; residual adds are in place (`x += bf16 output` keeps x float32
  without a separate cast);
- prefill runs the same layers over the whole prompt with SDPA (causal), where the fused kernel pays.

Precision: only the matmul inputs and outputs are bf16 (the int4 kernel's own dtype). RoPE, the KV cache,
attention and the residual stream are float32, and the head rescores its top-64 in float32
(`RescoredInt4Head`). Each choice was measured by flipping one op alone to bf16 and counting the greedy
choices that change against the float32 model over 1024 tiny-Shakespeare positions: a bf16 head costs
~3%, bf16 RoPE ~0.6%, bf16 attention ~0 (kept float32 anyway: the cache is cheap at this size). With
everything bf16 the agreement was 97.0% (llama.cpp: 96.5%); this arrangement agrees 99.1% (prefill path)
and 99.2% (decode path) there, 99.1% / 98.8% on the next 1024 positions. What remains is the kernel's own
bf16: its activations, its outputs and the bf16 scales, each worth about a third of the last 1%.

It reads the weights of whatever modules the model holds, so it serves both precisions: `exact` (float32,
separate Q/K/V matmuls, no extra weight copy) and `fast` (int4 weights, bf16 matmul activations).

    >>> model = load_fast_model("smollm2")
    >>> new_ids = greedy_generate(model, prompt_ids, max_new_tokens=32, stop_ids={eos})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.infer.quantized import ACTIVATION_DTYPE, Int4WeightOnlyLinear
from glossa.models.transformer import Transformer


class _Projection:
    """One or several linears applied to the same input, their outputs side by side, as few matmuls as
    possible: int4 parts fuse into one int4 matmul, float parts stay separate (no doubled float copy)."""

    def __init__(self, parts: Sequence[nn.Module], scale_first: float = 1.0) -> None:
        if Int4WeightOnlyLinear.can_concat(list(parts)):
            fused = Int4WeightOnlyLinear.concat(list(parts))
            if scale_first != 1.0:
                scales = fused.scales_and_zeros.clone()
                scales[:, : parts[0].out_features] *= scale_first  # scale AND zero: w -> w·s
                fused = Int4WeightOnlyLinear(fused.packed, scales, fused.in_features, fused.out_features)
            self.int4: Int4WeightOnlyLinear | None = fused
            self.weights: list[Tensor] = []
        elif all(type(p) is nn.Linear for p in parts):
            self.int4 = None
            self.weights = [p.weight.detach() for p in parts]
            if scale_first != 1.0:
                self.weights[0] = self.weights[0] * scale_first
        else:  # other modules (e.g. int4 parts that split a packing tile): called one by one
            self.int4, self.weights = None, []
            self.parts, self.scale_first = list(parts), scale_first
        self.dtype = ACTIVATION_DTYPE if self.int4 is not None or not self.weights else self.weights[0].dtype

    def __call__(self, x: Tensor) -> Tensor:
        """x (rows, in) already in `self.dtype` (the decoder casts once per input, not per projection)."""
        if self.int4 is not None:
            return self.int4._mm(x)
        if not self.weights:
            outputs = [part(x) for part in self.parts]
            outputs[0] = outputs[0] * self.scale_first
            return torch.cat(outputs, dim=-1)
        if len(self.weights) == 1:
            return F.linear(x, self.weights[0])
        return torch.cat([F.linear(x, w) for w in self.weights], dim=-1)


class _Layer:
    def __init__(self, block: nn.Module, scale: float) -> None:
        attn, ffn = block.attn, block.ffn
        self.qkv = _Projection([attn.q, attn.k, attn.v], scale_first=scale)
        self.o = _Projection([attn.o])
        self.gate_up = _Projection([ffn.gate, ffn.up])
        self.down = _Projection([ffn.down])
        self.attn_norm = block.attn_norm.weight.detach().float()
        self.ffn_norm = block.ffn_norm.weight.detach().float()


class FastDecoder:
    """The model's weights arranged for single-sequence decoding, with a preallocated KV cache."""

    def __init__(self, model: Transformer, max_length: int | None = None) -> None:
        config = model.config
        if config.architecture != "decoder" or config.position_kind != "rope" or config.ffn_kind != "swiglu":
            raise GlossaError("the fast decoder runs Llama-family decoders (RoPE, SwiGLU, RMSNorm)")
        if config.norm_kind != "rmsnorm" or config.sliding_window is not None or config.bias:
            raise GlossaError("the fast decoder runs Llama-family decoders without biases or windows")
        self.model = model
        self.n_heads, self.kv_heads, self.head_dim = (
            config.n_heads,
            config.kv_heads,
            config.attention_head_dim,
        )
        self.eps = config.norm_eps
        self.max_length = max_length or config.context_length
        self.layers = [_Layer(block, self.head_dim**-0.5) for block in model.layers]
        self.final_norm = model.norm.weight.detach().float()
        self.dtype = self.layers[0].qkv.dtype  # of the matmul inputs: bf16 for int4, float32 for exact
        dtypes = {p.dtype for layer in self.layers for p in (layer.qkv, layer.o, layer.gate_up, layer.down)}
        if len(dtypes) > 1:
            raise GlossaError("the fast decoder needs every projection in one precision; prepare the model")
        shape = (len(self.layers), self.kv_heads, self.max_length, self.head_dim)
        self.keys = torch.empty(shape)  # float32; positions past `length` are never read
        self.values = torch.empty(shape)
        self.layer_keys, self.layer_values = self.keys.unbind(0), self.values.unbind(0)  # views, made once
        with torch.inference_mode():
            cos, sin = model.rope(torch.arange(self.max_length))
        half = self.head_dim // 2
        self.cos = cos.float()
        # rotate_half(x)·sin == roll(x, half)·[-sin_first_half, sin_second_half]
        self.sin = torch.cat([-sin[:, :half], sin[:, half:]], dim=-1).float()
        self.length = 0

    def reset(self) -> None:
        self.length = 0

    @torch.inference_mode()
    def forward(self, ids: Tensor, *, all_logits: bool = False) -> Tensor:
        """Feed the next tokens `ids` (t,) of the sequence; the float32 logits of the last one (vocab,), or
        of every one (t, vocab) with `all_logits` (teacher forcing, perplexity)."""
        t = ids.shape[0]
        start, end = self.length, self.length + t
        if end > self.max_length:
            raise GlossaError(f"{end} positions exceed the decoder's {self.max_length}; start a new one")
        x = self.model.embed(ids).float()  # (t, width) residual stream in float32
        width = x.shape[-1]
        cos, sin = self.cos[start:end, None], self.sin[start:end, None]
        hq, hk, d = self.n_heads, self.kv_heads, self.head_dim
        split = ((hq + hk) * d, hk * d)
        for layer, keys, values in zip(self.layers, self.layer_keys, self.layer_values, strict=True):
            h = F.rms_norm(x, (width,), layer.attn_norm, self.eps).to(self.dtype)
            qk, v = layer.qkv(h).split(split, dim=-1)
            qk = qk.view(t, hq + hk, d)
            qk = torch.addcmul(qk * cos, qk.roll(d // 2, -1), sin)  # bf16 x float32 tables: float32
            q, k = qk.split((hq, hk), dim=1)
            keys.narrow(1, start, t).copy_(k.transpose(0, 1))
            values.narrow(1, start, t).copy_(v.view(t, hk, d).transpose(0, 1))
            keys, values = keys.narrow(1, 0, end), values.narrow(1, 0, end)
            if t == 1:
                scores = torch.bmm(q.view(hk, hq // hk, d), keys.transpose(1, 2))
                attended = torch.bmm(scores.softmax(-1), values).view(1, hq * d)
            else:
                attended = self._prefill_attention(q, keys, values, start)
            x += layer.o(attended.to(self.dtype))
            h = F.rms_norm(x, (width,), layer.ffn_norm, self.eps).to(self.dtype)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)
            x += layer.down(F.silu(gate) * up)
        self.length = end
        last = F.rms_norm(x if all_logits else x[-1:], (width,), self.final_norm, self.eps)
        logits = self.model.head(last).float()
        return logits if all_logits else logits[0]

    def _prefill_attention(self, q: Tensor, keys: Tensor, values: Tensor, start: int) -> Tensor:
        t = q.shape[0]
        mask = None
        if start:  # query i (position start+i) sees keys 0..start+i
            mask = torch.ones(t, start + t, dtype=torch.bool).tril(start)
        out = F.scaled_dot_product_attention(
            q.transpose(0, 1)[None],
            keys[None],
            values[None],
            attn_mask=mask,
            is_causal=mask is None,
            scale=1.0,  # already folded into the query weights
            enable_gqa=True,
        )
        return out[0].transpose(0, 1).reshape(t, -1)


def greedy_generate(
    model: Transformer,
    ids: Sequence[int] | Tensor,
    max_new_tokens: int,
    *,
    stop_ids: Iterable[int] = (),
    decoder: FastDecoder | None = None,
) -> list[int]:
    """The argmax continuation of `ids` (prompt token ids): up to `max_new_tokens` new ids, ending early
    after any of `stop_ids` (which is included). Pass a `FastDecoder` to reuse its weights and cache."""
    prompt = torch.as_tensor(list(ids) if not isinstance(ids, Tensor) else ids, dtype=torch.long).flatten()
    if prompt.numel() == 0:
        raise GlossaError("greedy_generate needs at least one prompt token")
    if max_new_tokens < 0:
        raise GlossaError(f"max_new_tokens must be >= 0, not {max_new_tokens}")
    if decoder is None:
        decoder = FastDecoder(
            model, max_length=min(model.config.context_length, prompt.numel() + max_new_tokens)
        )
    decoder.reset()
    stops = set(stop_ids)
    new: list[int] = []
    if max_new_tokens == 0:
        return new
    logits = decoder.forward(prompt)
    while True:
        token = int(logits.argmax())
        new.append(token)
        if token in stops or len(new) >= max_new_tokens:
            return new
        logits = decoder.forward(torch.tensor([token]))
