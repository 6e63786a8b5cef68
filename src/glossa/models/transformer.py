"""`Transformer`: one `nn.Module` that is GPT-2, Llama/SmolLM2, BERT/MiniLM, a T5-style encoder-decoder or an
MoE decoder, depending only on its `ModelConfig`.

The flow of a forward pass (seed §25: embedding → positional encoding → transformer layers → output head):

    ids ─embed─► + learned/sinusoidal positions (+ token types) ─[embedding norm]─► x    (RoPE: applied later,
                                                                                       inside attention)
    for each block:   x = x + attn(norm(x))          pre-norm (GPT-2, Llama)
                      x = x + ffn(norm(x))
                or:   x = norm(x + attn(x))          post-norm (BERT, the original transformer)
                      x = norm(x + ffn(x))
    [final norm] ──► head: logits over the vocabulary (tied to the embedding matrix or not)

Every addition `x + f(...)` is a residual connection: the block only learns a correction to x, and gradients
flow straight through the sum. The attention mask decides the architecture: causal for a decoder (GPT-style,
autoregressive generation), none for an encoder (BERT-style, bidirectional understanding). An encoder-decoder
(T5-style) runs a bidirectional encoder over the source once, then a causal decoder whose blocks add a
cross-attention sub-layer that reads the encoder's output. With `n_experts > 0` each block's FFN becomes a
mixture of experts (`glossa.nn.moe`) and the routers' auxiliary losses are summed over layers in the output.

Our T5-style model is the architecture of T5 (pre-norm RMSNorm, no biases, shared embeddings, encoder and
decoder stacks) with a standard positional encoding instead of T5's learned relative-position buckets.

`forward` returns a `TransformerOutput`: the logits and, on request, the hidden state after every layer and
every layer's attention probabilities (for the logit lens and attention maps in `glossa.research`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.models.config import ModelConfig
from glossa.nn.attention import Attention
from glossa.nn.kv_cache import KVCache, LayerKVCache
from glossa.nn.masks import CausalMask, attention_mask
from glossa.nn.mlp import ACTIVATIONS, FeedForward, ffn_activation
from glossa.nn.norms import make_norm
from glossa.nn.positions import LearnedPositions, RotaryEmbedding, SinusoidalPositions


@dataclass
class TransformerOutput:
    logits: Tensor | None  # (batch, seq, vocab); None for head="none"
    last_hidden_state: Tensor  # after the final norm, what the head reads
    # the embeddings, then each block's output (before the final norm)
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None  # per block: (batch, heads, seq, keys) probabilities
    cross_attentions: tuple[Tensor, ...] | None = None
    encoder_last_hidden_state: Tensor | None = None
    aux_loss: Tensor | None = None  # MoE: weighted load-balancing + router z-loss, summed over layers
    load_balancing_loss: Tensor | None = None
    router_z_loss: Tensor | None = None
    expert_load: Tensor | None = None  # tokens routed to each expert, summed over layers
    dropped_tokens: int = 0


class Block(nn.Module):
    """One transformer layer: self-attention, optional cross-attention, then the FFN (or MoE FFN)."""

    def __init__(self, config: ModelConfig, *, cross: bool) -> None:
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        d = config.d_model

        def norm() -> nn.Module:
            return make_norm(config.norm_kind, d, config.norm_eps, bias=config.bias)

        def attention() -> Attention:
            return Attention(
                d, config.n_heads, config.kv_heads, config.head_dim, bias=config.bias, dropout=config.dropout
            )

        self.attn_norm, self.attn = norm(), attention()
        self.cross_norm, self.cross_attn = (norm(), attention()) if cross else (None, None)
        self.ffn_norm = norm()
        self.ffn = _feed_forward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | CausalMask | None,
        rope: tuple[Tensor, Tensor] | None,
        cache: LayerKVCache | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        need_probs: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        probs = cross_probs = None

        def self_attention(h: Tensor) -> Tensor:
            nonlocal probs
            out, probs = self.attn(h, mask=mask, rope=rope, cache=cache, need_probs=need_probs)
            return out

        def cross_attention(h: Tensor) -> Tensor:
            nonlocal cross_probs
            out, cross_probs = self.cross_attn(h, context=context, mask=context_mask, need_probs=need_probs)
            return out

        x = self._residual(x, self.attn_norm, self_attention)
        if self.cross_attn is not None:
            if context is None:
                raise GlossaError("this decoder block cross-attends: pass the encoder output")
            x = self._residual(x, self.cross_norm, cross_attention)
        x = self._residual(x, self.ffn_norm, self.ffn)
        return x, probs, cross_probs

    def _residual(self, x: Tensor, norm: nn.Module, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        if self.pre_norm:
            return x + self.dropout(sublayer(norm(x)))
        return norm(x + self.dropout(sublayer(x)))


class MaskedLMHead(nn.Module):
    """BERT's masked-LM head: dense → activation → LayerNorm, then a projection to the vocabulary (+ bias)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.activation = ACTIVATIONS[ffn_activation(config.ffn_kind)[0]]
        self.norm = make_norm(config.norm_kind, config.d_model, config.norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.activation(self.dense(x)))


class Transformer(nn.Module):
    """The whole model a `ModelConfig` describes: embeddings, positions, blocks, final norm, output head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.embed = _embedding(config.vocab_size, d)
        self.positions: nn.Module | None = None
        if config.position_kind == "learned":
            self.positions = LearnedPositions(config.context_length, d)
        elif config.position_kind == "sinusoidal":
            self.positions = SinusoidalPositions(config.context_length, d)
        self.rope = (
            RotaryEmbedding(
                config.attention_head_dim, config.rope_theta, config.rope_scaling, config.context_length
            )
            if config.position_kind == "rope"
            else None
        )
        self.token_types = _embedding(config.type_vocab_size, d) if config.type_vocab_size else None
        self.embed_norm = make_norm(config.norm_kind, d, config.norm_eps) if config.embedding_norm else None
        self.embed_dropout = nn.Dropout(config.dropout)

        final_norm = config.norm_position == "pre"  # post-norm blocks already end with a norm
        encoder_decoder = config.architecture == "encoder-decoder"
        if encoder_decoder:
            self.encoder_layers = nn.ModuleList(Block(config, cross=False) for _ in range(config.n_layers))
            self.encoder_norm = self._norm() if final_norm else None
        self.layers = nn.ModuleList(
            Block(config, cross=encoder_decoder) for _ in range(config.decoder_layers)
        )
        self.norm = self._norm() if final_norm else None

        self.mlm = MaskedLMHead(config) if config.head == "mlm" else None
        self.head = (
            nn.Linear(d, config.vocab_size, bias=config.head == "mlm") if config.head != "none" else None
        )
        # filled by the GGUF loader: parameter name -> glossa.models.gguf_weights.QuantizedTensor
        self.quantized_weights: dict[str, Any] = {}
        self.apply(self._init_weights)
        self.tie_weights()

    def _norm(self) -> nn.Module:
        return make_norm(
            self.config.norm_kind, self.config.d_model, self.config.norm_eps, bias=self.config.bias
        )

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, init_std) weights and zero biases (GPT-2's init); nothing on the meta device."""
        if (
            isinstance(module, nn.Linear | nn.Embedding | LearnedPositions)
            and module.weight.device.type != "meta"
        ):
            nn.init.normal_(module.weight, std=self.config.init_std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Make the output projection the token-embedding matrix itself (again after replacing weights)."""
        if self.head is not None and self.config.tie_embeddings:
            self.head.weight = self.embed.weight

    @classmethod
    def from_state_dict(cls, config: ModelConfig, state: dict[str, Tensor]) -> Transformer:
        """A model that uses the given tensors as its parameters, without a copy and without first
        initialising random weights (it is built on the meta device, then handed the tensors)."""
        state = dict(state)
        if (
            config.head != "none"
            and config.tie_embeddings
            and "head.weight" not in state
            and "embed.weight" in state
        ):
            state["head.weight"] = state["embed.weight"]
        with torch.device("meta"):
            model = cls(config)
        expected = set(model.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            problem = f"lacks {missing[:3]}" if missing else f"has unknown {unexpected[:3]}"
            raise GlossaError(f"the weights do not fit the config: the state {problem}")
        for name, tensor in model.state_dict().items():
            if tuple(state[name].shape) != tuple(tensor.shape):
                raise GlossaError(
                    f"weight {name!r} has shape {tuple(state[name].shape)}, "
                    f"the config needs {tuple(tensor.shape)}"
                )
        model.load_state_dict(state, assign=True)
        model.tie_weights()
        device = state["embed.weight"].device
        model.reset_buffers(device)
        return model

    def reset_buffers(self, device: torch.device | str = "cpu") -> None:
        """Recompute the buffers that are not weights (RoPE frequencies, sinusoidal table), e.g. after the
        model was built on the meta device and given loaded weights."""
        for module in self.modules():
            if isinstance(module, RotaryEmbedding | SinusoidalPositions):
                module.reset_buffers(device)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # shared (tied) tensors are counted once

    # -- the forward pass ------------------------------------------------------------------------------------

    def embed_tokens(
        self, ids: Tensor, positions: Tensor, token_type_ids: Tensor | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """Token embeddings plus absolute positions (and token types); RoPE's (cos, sin) for attention."""
        x = self.embed(ids)
        if self.config.scale_embeddings:
            x = x * math.sqrt(self.config.d_model)
        if self.positions is not None:
            x = x + self.positions(positions).to(x.dtype)
        if self.token_types is not None:
            types = torch.zeros_like(ids) if token_type_ids is None else token_type_ids
            x = x + self.token_types(types)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        rope = None
        if self.rope is not None:
            cos, sin = self.rope(positions)
            rope = (cos.to(x.dtype), sin.to(x.dtype))
        return self.embed_dropout(x), rope

    def encode(
        self,
        input_ids: Tensor,
        *,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> TransformerOutput:
        """Run the bidirectional encoder (of an encoder-decoder or encoder-only model), without the head."""
        if self.config.architecture == "decoder":
            raise GlossaError("a decoder-only model has no encoder; call the model itself")
        layers = self.encoder_layers if self.config.architecture == "encoder-decoder" else self.layers
        norm = self.encoder_norm if self.config.architecture == "encoder-decoder" else self.norm
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x, rope = self.embed_tokens(input_ids, positions, token_type_ids)
        mask = self._mask(input_ids.shape[1], input_ids.shape[1], causal=False, padding=attention_mask)
        return self._run(
            layers, norm, x, rope, mask, None, None, None, output_hidden_states, output_attentions
        )

    def forward(
        self,
        input_ids: Tensor,
        *,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        positions: Tensor | None = None,
        encoder_input_ids: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        encoder_output: Tensor | None = None,
        cache: KVCache | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> TransformerOutput:
        """Logits for `input_ids` (batch, seq).

        attention_mask: (batch, keys) 1 for real tokens, 0 for padding (keys = cached + new positions).
        positions: absolute positions of the new tokens (default: cache length + 0, 1, 2, ...).
        encoder_input_ids / encoder_attention_mask, or a precomputed encoder_output: the source sequence of an
        encoder-decoder; input_ids are then the decoder's tokens.
        cache: a `KVCache` that keeps the keys and values of earlier positions (decoders only)."""
        config = self.config
        if input_ids.dim() != 2:
            raise GlossaError(f"input_ids must be (batch, seq), not {tuple(input_ids.shape)}")
        if config.architecture == "encoder":
            if cache is not None:
                raise GlossaError("an encoder has no KV cache: it reads the whole sequence at once")
            out = self.encode(
                input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_hidden_states=output_hidden_states,
                output_attentions=output_attentions,
            )
            out.logits = self._logits(out.last_hidden_state)
            return out

        context = context_mask = encoder_out = None
        if config.architecture == "encoder-decoder":
            if encoder_output is None:
                if encoder_input_ids is None:
                    raise GlossaError("an encoder-decoder needs encoder_input_ids (or encoder_output)")
                encoder_out = self.encode(encoder_input_ids, attention_mask=encoder_attention_mask)
                encoder_output = encoder_out.last_hidden_state
            context = encoder_output
            if encoder_attention_mask is not None:
                context_mask = encoder_attention_mask.bool()[:, None, None, :]

        past = cache.length if cache is not None else 0
        t = input_ids.shape[1]
        if past + t > config.context_length and config.position_kind == "learned":
            raise GlossaError(f"{past + t} positions exceed the context length {config.context_length}")
        if positions is None:
            positions = torch.arange(past, past + t, device=input_ids.device)
        x, rope = self.embed_tokens(input_ids, positions, token_type_ids)
        mask = self._mask(t, past + t, causal=True, padding=attention_mask)
        out = self._run(
            self.layers,
            self.norm,
            x,
            rope,
            mask,
            cache,
            context,
            context_mask,
            output_hidden_states,
            output_attentions,
        )
        if encoder_out is not None:
            out = _merge_moe(out, encoder_out)
        out.encoder_last_hidden_state = encoder_output
        out.logits = self._logits(out.last_hidden_state)
        return out

    def _mask(
        self, q_len: int, k_len: int, *, causal: bool, padding: Tensor | None
    ) -> Tensor | CausalMask | None:
        window = self.config.sliding_window
        if padding is None and window is None and (not causal or q_len == 1):
            return None  # every key visible: let attention skip the mask
        if causal and padding is None and window is None and q_len == k_len:
            return CausalMask(q_len)  # no cache, no padding: attention runs it as is_causal
        device = self.embed.weight.device
        return attention_mask(q_len, k_len, causal=causal, window=window, padding=padding, device=device)

    def _run(
        self,
        layers: nn.ModuleList,
        norm: nn.Module | None,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        mask: Tensor | CausalMask | None,
        cache: KVCache | None,
        context: Tensor | None,
        context_mask: Tensor | None,
        output_hidden_states: bool,
        output_attentions: bool,
    ) -> TransformerOutput:
        hidden, attentions, cross_attentions = [x], [], []
        moe_stats: list[dict] = []
        for index, block in enumerate(layers):
            x, probs, cross_probs = block(
                x,
                mask=mask,
                rope=rope,
                cache=cache.layers[index] if cache is not None else None,
                context=context,
                context_mask=context_mask,
                need_probs=output_attentions,
            )
            if output_hidden_states:
                hidden.append(x)
            if output_attentions:
                attentions.append(probs)
                if cross_probs is not None:
                    cross_attentions.append(cross_probs)
            aux = getattr(block.ffn, "aux", None)
            if aux is not None:
                moe_stats.append(aux)
        last = norm(x) if norm is not None else x
        out = TransformerOutput(
            logits=None,
            last_hidden_state=last,
            hidden_states=tuple(hidden) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
            cross_attentions=tuple(cross_attentions) if output_attentions and cross_attentions else None,
        )
        if moe_stats:
            self._sum_moe(out, moe_stats)
        return out

    def _sum_moe(self, out: TransformerOutput, stats: list[dict]) -> None:
        out.load_balancing_loss = torch.stack([s["load_balancing_loss"] for s in stats]).sum()
        out.router_z_loss = torch.stack([s["router_z_loss"] for s in stats]).sum()
        out.aux_loss = (
            self.config.moe_aux_loss_weight * out.load_balancing_loss
            + self.config.moe_z_loss_weight * out.router_z_loss
        )
        out.expert_load = torch.stack([torch.as_tensor(s["expert_load"]).float() for s in stats]).sum(0)
        out.dropped_tokens = sum(int(s["dropped_tokens"]) for s in stats)

    def _logits(self, x: Tensor) -> Tensor | None:
        if self.head is None:
            return None
        if self.mlm is not None:
            x = self.mlm(x)
        return self.head(x)


def _embedding(n: int, dim: int) -> nn.Embedding:
    """An embedding table left uninitialised (`_init_weights` fills it), so that building on the meta device
    costs nothing (nn.Embedding's own init would route through torch's reference ops there)."""
    return nn.Embedding(n, dim, _weight=torch.empty(n, dim))


def _merge_moe(decoder: TransformerOutput, encoder: TransformerOutput) -> TransformerOutput:
    """Add the encoder's MoE losses and loads to the decoder's, so the output covers the whole model."""
    for name in ("aux_loss", "load_balancing_loss", "router_z_loss", "expert_load"):
        mine, theirs = getattr(decoder, name), getattr(encoder, name)
        if theirs is not None:
            setattr(decoder, name, theirs if mine is None else mine + theirs)
    decoder.dropped_tokens += encoder.dropped_tokens
    return decoder


def _feed_forward(config: ModelConfig) -> nn.Module:
    if config.n_experts == 0:
        return FeedForward(config.d_model, config.d_ff, config.ffn_kind, bias=config.bias)
    from glossa.nn.moe import MoEFeedForward

    activation, gated = ffn_activation(config.ffn_kind)
    return MoEFeedForward(
        config.d_model,
        config.d_ff,
        config.n_experts,
        top_k=config.top_k,
        gating=config.gating,
        capacity_factor=config.capacity_factor,
        activation=activation,
        gated=gated,
        bias=config.bias,
    )
