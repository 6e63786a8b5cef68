"""glossa: the generative-AI glossary, from binary to deployment, as one working system.

The folders follow the flow of the seed glossary: numerics → text → tokenizers → data → nn/models → train →
tune → quant → infer → serve, with evals, apps, safety, ops, governance and research around that spine.
"""

from glossa.errors import GlossaError

__all__ = ["GlossaError"]
__version__ = "0.1.0"
