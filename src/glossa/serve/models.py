"""The models a server serves: `ServedModel` (a name → model, tokenizer, engine), `ModelPool` (all of them).

The contract other routes rely on (`request.app.state.models`):

    pool.get(name, user=None) -> ServedModel   .name .version .model .tokenizer .engine (None for encoders)
    pool.names() -> list[str]                  every name a request may use, aliases included

Names: the built-ins `smollm2` and `minilm` (no registration needed), registered models as `name` (its
latest version) or `name@version`, and registry aliases; an alias with several targets is an A/B split routed
by `glossa.serve.routing` (sticky per `user`). Identical weights are loaded once: two registered versions with
the same checksum share one model and one engine. Each generative model gets one `Engine` driven by one
`EngineLoop` thread; encoders get a `SentenceEmbedder` and no engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from glossa.errors import GlossaError
from glossa.infer.engine import Engine
from glossa.models.transformer import Transformer
from glossa.serve.config import ServeConfig
from glossa.serve.engine_loop import EngineLoop
from glossa.serve.registry import BUILTIN, ModelRegistry
from glossa.serve.routing import choose
from glossa.tokenizers.base import Tokenizer


@dataclass
class ServedModel:
    name: str  # the key requests use: "smollm2", or "chat@v2" for a registered version
    version: str
    model: Transformer
    tokenizer: Tokenizer
    engine: Engine | None = None
    loop: EngineLoop | None = None
    embedder: object | None = None  # glossa.models.embeddings.SentenceEmbedder for encoders
    source: str = ""
    sha256: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def is_encoder(self) -> bool:
        return self.engine is None


class ModelPool:
    def __init__(self, models: list[ServedModel], aliases: dict[str, list[tuple[str, float]]] | None = None):
        self._models = {served.name: served for served in models}
        self._aliases = dict(aliases or {})
        for alias, targets in self._aliases.items():
            missing = [key for key, _ in targets if key not in self._models]
            if missing:
                raise GlossaError(
                    f"alias {alias!r} points at {missing[0]!r}, which this server does not serve"
                )

    def names(self) -> list[str]:
        return [*self._models, *self._aliases]

    def served(self) -> list[ServedModel]:
        """Each distinct served model once (aliases not repeated)."""
        return list(self._models.values())

    def get(self, name: str, user: str | None = None) -> ServedModel:
        if name in self._models:
            return self._models[name]
        if name in self._aliases:
            return self._models[choose(self._aliases[name], alias=name, user=user)]
        raise GlossaError(f"the model {name!r} does not exist: this server has {', '.join(self.names())}")

    def engines(self) -> list[tuple[str, Engine, EngineLoop]]:
        """Distinct engines (shared ones once) with a name for metrics."""
        seen: dict[int, tuple[str, Engine, EngineLoop]] = {}
        for served in self._models.values():
            if served.engine is not None and served.loop is not None:
                seen.setdefault(id(served.engine), (served.name, served.engine, served.loop))
        return list(seen.values())

    def close(self) -> None:
        for _, _, loop in self.engines():
            loop.stop()

    @classmethod
    def load(cls, config: ServeConfig) -> ModelPool:
        """Load every model the config names (see the module docstring)."""
        if config.threads:
            torch.set_num_threads(config.threads)
        loader = _Loader(config)
        for name in config.models:
            loader.add_generative(name)
        for name in config.embedding_models:
            loader.add_encoder(name)
        return cls(loader.models, loader.aliases)


def check_model_names(config: ServeConfig) -> None:
    """Fail fast (GlossaError) on a name that is neither built in nor registered, before any loading."""
    names = [name for name in (*config.models, *config.embedding_models) if name not in BUILTIN]
    if not names:
        return
    registry = ModelRegistry(config.registry_path, config.model_roots)
    aliases = registry.aliases()
    for name in names:
        base, _, version = name.partition("@")
        if version or base not in aliases:
            registry.find(base, version or None)


class _Loader:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.models: list[ServedModel] = []
        self.aliases: dict[str, list[tuple[str, float]]] = {}
        self._by_weights: dict[tuple[str, str], ServedModel] = {}  # (path, sha256) -> first loaded
        self._registry: ModelRegistry | None = None

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.config.registry_path, self.config.model_roots)
        return self._registry

    def add_generative(self, name: str) -> None:
        if name in BUILTIN:
            self._add(name, "builtin", name, None, encoder=False)
            return
        base, _, version = name.partition("@")
        aliases = self.registry.aliases()
        if not version and base in aliases:
            for target in aliases[base]:
                self.add_generative(target.key)
            self.aliases[base] = [(target.key, target.weight) for target in aliases[base]]
            return
        entry = self.registry.find(base, version or None)
        path = self.registry.verify(entry)
        self._add(entry.key, entry.version, str(path), entry.sha256, encoder=False)
        if not version:  # the plain name means its latest version
            self.aliases[base] = [(entry.key, 1.0)]

    def add_encoder(self, name: str) -> None:
        if name in BUILTIN:
            self._add(name, "builtin", name, None, encoder=True)
            return
        base, _, version = name.partition("@")
        entry = self.registry.find(base, version or None)
        self._add(entry.key, entry.version, str(self.registry.verify(entry)), entry.sha256, encoder=True)

    def _add(self, key: str, version: str, source: str, sha256: str | None, *, encoder: bool) -> None:
        if any(served.name == key for served in self.models):
            return
        shared = self._by_weights.get((source, sha256 or ""))
        if shared is not None:
            served = ServedModel(key, version, shared.model, shared.tokenizer, shared.engine, shared.loop)
            served.embedder, served.source, served.sha256 = shared.embedder, source, sha256
        else:
            served = load_served(key, version, source, self.config, encoder=encoder)
            served.sha256 = sha256
            self._by_weights[(source, sha256 or "")] = served
        self.models.append(served)


def load_served(
    key: str, version: str, source: str | Path, config: ServeConfig, *, encoder: bool
) -> ServedModel:
    """Load one model and, for a decoder, its engine and engine thread."""
    from glossa.tokenizers.loading import load_tokenizer

    tokenizer = load_tokenizer(source)
    if encoder:
        from glossa.models.embeddings import load_embedder

        embedder = load_embedder(source)
        return ServedModel(key, version, embedder.model, tokenizer, embedder=embedder, source=str(source))
    model = _load_decoder(source, config.precision)
    if model.config.architecture == "encoder":
        raise GlossaError(f"{key} is an encoder: serve it with --embedding-model, not --model")
    engine = Engine(model, tokenizer, max_num_seqs=config.max_num_seqs, max_model_len=config.max_model_len)
    loop = EngineLoop(engine, key, threads=config.threads)
    return ServedModel(key, version, model, tokenizer, engine, loop, source=str(source))


def _load_decoder(source: str | Path, precision: str) -> Transformer:
    from glossa.models.loading import load_model

    if precision == "fast":
        from glossa.infer.quantized import load_fast_model

        return load_fast_model(source)
    return load_model(source, dtype=torch.bfloat16 if precision == "bf16" else torch.float32)


class LoadingPool(ModelPool):
    """Stands in for the pool while models load: no names, and `get` says to retry."""

    def __init__(self) -> None:
        super().__init__([])
        self.error: str | None = None

    def get(self, name: str, user: str | None = None) -> ServedModel:
        if self.error is not None:
            raise GlossaError(f"the models failed to load: {self.error}")
        raise GlossaError("the server is still loading its models: retry in a few seconds")
