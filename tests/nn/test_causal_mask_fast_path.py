"""The unbuilt causal mask: attention through SDPA's is_causal equals attention through the built mask."""

import torch

from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.nn.attention import Attention
from glossa.nn.masks import CausalMask, attention_mask


def test_causal_mask_builds_the_same_tensor_as_attention_mask():
    assert torch.equal(CausalMask(5).build(), attention_mask(5, causal=True))


def test_attention_with_the_unbuilt_causal_mask_equals_the_built_one_forward_and_backward():
    torch.manual_seed(0)
    attention = Attention(32, n_heads=4, n_kv_heads=2)
    x = torch.randn(2, 7, 32, requires_grad=True)
    fast, _ = attention(x, mask=CausalMask(7))
    fast.sum().backward()
    fast_grad, x.grad = x.grad.clone(), None
    built, _ = attention(x, mask=attention_mask(7, causal=True))
    built.sum().backward()
    assert torch.allclose(fast, built, atol=1e-6) and torch.allclose(fast_grad, x.grad, atol=1e-5)
    _, probs = attention(x, mask=CausalMask(7), need_probs=True)  # probabilities need the built mask
    assert probs is not None and torch.all(probs[..., 0, 1:] == 0)


def test_a_decoder_without_cache_or_padding_passes_the_unbuilt_mask():
    model = Transformer(preset("llama-tiny"))
    assert model._mask(6, 6, causal=True, padding=None) == CausalMask(6)
    assert isinstance(model._mask(1, 6, causal=True, padding=None), type(None))
    assert isinstance(model._mask(3, 6, causal=True, padding=None), torch.Tensor)  # queries after a cache
