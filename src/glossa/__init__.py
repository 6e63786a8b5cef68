"""glossa: the generative-AI glossary, from binary to deployment, as one working system.

The folders follow the flow of the seed glossary: numerics → text → tokenizers → data → nn/models → train →
tune → quant → infer → serve, with evals, apps, safety, ops, governance and research around that spine.
"""

from typing import Any

from glossa.errors import GlossaError

__all__ = ["Engine", "GlossaError", "SamplingParams", "load_model", "load_tokenizer", "save_model"]
__version__ = "0.1.0"

_LAZY = {
    "load_tokenizer": "glossa.tokenizers.loading",
    "load_model": "glossa.models.loading",
    "save_model": "glossa.models.loading",
    "Engine": "glossa.infer.engine",
    "SamplingParams": "glossa.infer.params",
}


def __getattr__(name: str) -> Any:
    """`glossa.load_tokenizer` and friends, imported on first use so `import glossa` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'glossa' has no attribute {name!r}")
