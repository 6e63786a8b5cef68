"""`glossa model …` and `glossa embed`: what a transformer costs, how its masks and RoPE look, and sentence
embeddings from a real encoder.

    glossa model describe smollm2-135m             parameters by component, FLOPs/token, KV cache, scale
    glossa model describe smollm2                  the same, read from the real model's GGUF metadata
    glossa model attention-mask --kind sliding --size 8 --window 3
    glossa model rope --head-dim 64 --scaling llama3 --factor 8
    glossa embed "a cat" "a dog" "an invoice"      pairwise cosine similarity and Euclidean distance

CONFIG|MODEL for `describe` is a preset name (`glossa.models.presets`), a glossa config JSON, a registered
model (`smollm2`, `minilm`), a .gguf file or a model folder; only the config is read, never the weights.
torch and the models are imported inside the commands, so `glossa --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError

MASK_KINDS = ("causal", "bidirectional", "sliding", "block-sparse", "padding")

model_app = typer.Typer(
    name="model", help="Transformer configurations, their costs, masks and positions.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `glossa model …` and `glossa embed` to the glossa app."""
    app.add_typer(model_app, name="model")
    app.command("embed")(embed)


def resolve_config(source: str):
    """A preset, a glossa config JSON file, or any model source `load_config` reads."""
    from glossa.models.config import ModelConfig
    from glossa.models.loading import load_config
    from glossa.models.presets import PRESETS, preset

    if source in PRESETS:
        return preset(source)
    path = Path(source)
    if path.is_file() and path.suffix == ".json":
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise GlossaError(f"cannot read {path}: {error}") from None
        if not isinstance(values, dict):
            raise GlossaError(f"{path} must hold a JSON object of ModelConfig fields")
        return ModelConfig.from_dict(values)
    try:
        return load_config(source)
    except GlossaError as error:
        raise GlossaError(f"{error} (or a preset: {', '.join(PRESETS)})") from None


@model_app.command("describe")
def describe_command(
    source: Annotated[str, typer.Argument(help="A preset, config JSON, registered model, .gguf or folder.")],
    context: Annotated[int | None, typer.Option(help="Attention span for FLOPs (default: context).")] = None,
) -> None:
    """Parameters by component, FLOPs per token, KV-cache bytes per token and the scale category."""
    from glossa.models.describe import describe

    config = resolve_config(source)
    if context is not None and context < 1:
        raise GlossaError(f"--context must be at least 1, not {context}")
    report = describe(config, context)
    shape = Table(title=f"{config.name or source}: {config.architecture}", title_justify="left")
    shape.add_column("setting")
    shape.add_column("value")
    kv = f"{config.kv_heads}" + (" (GQA)" if 1 < config.kv_heads < config.n_heads else "")
    kv += " (MQA)" if config.kv_heads == 1 and config.n_heads > 1 else ""
    layers = f"{config.n_layers}" + (
        f" + {config.n_decoder_layers} decoder" if config.n_decoder_layers else ""
    )
    for name, value in [
        ("layers", layers),
        ("width (d_model)", f"{config.d_model}"),
        ("heads / KV heads / head dim", f"{config.n_heads} / {kv} / {config.attention_head_dim}"),
        ("FFN", f"{config.ffn_kind}, {config.d_ff} wide"),
        ("norm", f"{config.norm_kind} ({config.norm_position}-norm), eps {config.norm_eps:g}"),
        (
            "positions",
            config.position_kind + (f", θ = {config.rope_theta:g}" if config.position_kind == "rope" else ""),
        ),
        ("vocabulary / context", f"{config.vocab_size:,} / {config.context_length:,}"),
        (
            "output head",
            config.head
            + (", tied to the embeddings" if config.tie_embeddings and config.head != "none" else ""),
        ),
    ]:
        shape.add_row(name, value)
    if config.sliding_window:
        shape.add_row("sliding window", f"{config.sliding_window}")
    if config.n_experts:
        shape.add_row("experts", f"{config.n_experts}, {config.gating} gating, top-{config.top_k}")
    console.print(shape)

    counts = Table(title="Parameters", title_justify="left")
    counts.add_column("component")
    counts.add_column("parameters", justify="right")
    counts.add_column("share", justify="right")
    for name, count in report.parameters.items():
        if count:
            counts.add_row(name, f"{count:,}", f"{count / report.total:.1%}")
    counts.add_row("[bold]total[/]", f"[bold]{report.total:,}[/]", "100.0%")
    if report.active != report.total:
        counts.add_row("active per token", f"{report.active:,}", f"{report.active / report.total:.1%}")
    console.print(counts)
    console.print(
        f"scale category: {report.scale} (small < 1B, medium 1-10B, large 10-100B, foundation ≥ 100B)"
    )

    costs = Table(title=f"Per token, attending over {report.context:,} positions", title_justify="left")
    costs.add_column("cost")
    costs.add_column("value", justify="right")
    costs.add_row("matmul parameters N", f"{report.matmul_parameters:,}")
    costs.add_row("forward FLOPs (2N + attention)", f"{report.flops_forward:,.0f}")
    costs.add_row("training FLOPs (6N + attention)", f"{report.flops_train:,.0f}")
    for kind, size in report.kv_cache_bytes.items():
        full = size * config.context_length
        costs.add_row(f"KV cache, {kind}", f"{size:,} B/token ({full / 2**20:,.1f} MiB at full context)")
    console.print(costs)


@model_app.command("attention-mask")
def attention_mask_command(
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(MASK_KINDS)}.")] = "causal",
    size: Annotated[int, typer.Option(help="Sequence length.")] = 8,
    window: Annotated[int, typer.Option(help="sliding: positions each token sees.")] = 3,
    block: Annotated[int, typer.Option(help="block-sparse: block size.")] = 4,
    pad: Annotated[int, typer.Option(help="padding: padding tokens at the end.")] = 2,
) -> None:
    """Draw an attention mask: row = query, column = key, ■ = may attend."""
    import torch

    from glossa.nn.masks import attention_mask

    if kind not in MASK_KINDS:
        raise GlossaError(f"unknown mask kind {kind!r}: use one of {', '.join(MASK_KINDS)}")
    if not 1 <= size <= 64:
        raise GlossaError(f"--size must be between 1 and 64, not {size}")
    if kind == "sliding":
        mask = attention_mask(size, causal=True, window=window)
    elif kind == "block-sparse":
        mask = attention_mask(size, causal=True, block_size=block)
    elif kind == "padding":
        if not 0 <= pad < size:
            raise GlossaError(f"--pad must be between 0 and {size - 1}, not {pad}")
        real = torch.tensor([[1] * (size - pad) + [0] * pad])
        mask = attention_mask(size, causal=False, padding=real)[0, 0]
    else:
        mask = attention_mask(size, causal=kind == "causal")
    console.print(f"{kind} attention mask, {size} positions (row = query, column = key, ■ = may attend)")
    console.print("     " + " ".join(f"{key % 10}" for key in range(size)))
    for query in range(size):
        cells = " ".join("■" if bool(mask[query, key]) else "·" for key in range(size))
        console.print(f"{query:>3}  {cells}", highlight=False)
    console.print(f"{int(mask.sum())} of {size * size} query-key pairs attended")


@model_app.command("rope")
def rope_command(
    head_dim: Annotated[int, typer.Option(help="Head dimension (even).")] = 64,
    theta: Annotated[float, typer.Option(help="RoPE base θ.")] = 10000.0,
    scaling: Annotated[str | None, typer.Option(help="linear, ntk, dynamic or llama3.")] = None,
    factor: Annotated[float, typer.Option(help="Scaling factor.")] = 4.0,
    original_context: Annotated[int, typer.Option(help="Training context the scaling extends.")] = 8192,
) -> None:
    """RoPE's rotation frequencies per pair of dimensions, and the relative-position property."""
    import math

    import torch

    from glossa.nn.positions import RopeScaling, RotaryEmbedding, apply_rotary, rope_inv_freq

    if head_dim < 2 or head_dim % 2:
        raise GlossaError(f"--head-dim must be an even number ≥ 2, not {head_dim}")
    rope_scaling = RopeScaling(scaling, factor, original_context) if scaling else None
    base = rope_inv_freq(head_dim, theta)
    scaled = rope_inv_freq(head_dim, theta, rope_scaling, context_length=original_context)
    table = Table(
        title=f"RoPE, head dim {head_dim}, θ = {theta:g}" + (f", {scaling} ×{factor:g}" if scaling else "")
    )
    table.add_column("pair i", justify="right")
    table.add_column("θ_i (rad/position)", justify="right")
    table.add_column("wavelength (positions)", justify="right")
    if scaling:
        table.add_column("scaled θ_i", justify="right")
        table.add_column("scaled wavelength", justify="right")
    rows = sorted({*range(0, head_dim // 2, max(1, head_dim // 16)), head_dim // 2 - 1})
    for i in rows:
        cells = [f"{i}", f"{float(base[i]):.3e}", f"{2 * math.pi / float(base[i]):,.1f}"]
        if scaling:
            cells += [f"{float(scaled[i]):.3e}", f"{2 * math.pi / float(scaled[i]):,.1f}"]
        table.add_row(*cells)
    console.print(table)
    generator = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(1, 1, 1, head_dim, generator=generator),
        torch.randn(1, 1, 1, head_dim, generator=generator),
    )
    rope = RotaryEmbedding(head_dim, theta, rope_scaling, original_context)
    console.print(
        "q·k after rotating q to position p + 3 and k to position p (depends only on the offset 3):"
    )
    for p in (0, 10, 100, 1000):
        rotated_q = apply_rotary(q, *rope(torch.tensor([p + 3])))
        rotated_k = apply_rotary(k, *rope(torch.tensor([p])))
        console.print(f"  p = {p:>4}: {float((rotated_q * rotated_k).sum()):+.6f}", highlight=False)


def embed(
    texts: Annotated[list[str], typer.Argument(help="Texts to embed and compare.", show_default=False)],
    model: Annotated[str, typer.Option(help="Encoder: a registered name or a model folder.")] = "minilm",
) -> None:
    """Sentence embeddings of TEXTS; prints their pairwise cosine similarity and Euclidean distance."""
    from glossa.models.embeddings import cosine_similarity_matrix, euclidean_distance_matrix, load_embedder

    if not texts:
        raise GlossaError('give at least one text: glossa embed "a cat" "a dog"')
    embedder = load_embedder(model)
    vectors = embedder.embed(texts)
    console.print(
        f"{len(texts)} embedding(s) of dimension {vectors.shape[1]} ({embedder.pooling} pooling"
        + (", L2-normalised)" if embedder.normalize else ")")
    )
    for title, matrix, style in (
        ("cosine similarity (1 = same direction)", cosine_similarity_matrix(vectors), "{:.4f}"),
        ("Euclidean distance", euclidean_distance_matrix(vectors), "{:.4f}"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("")
        for index in range(len(texts)):
            table.add_column(f"[{index}]", justify="right")
        for index, text in enumerate(texts):
            label = text if len(text) <= 40 else text[:39] + "…"
            table.add_row(f"[{index}] {label}", *(style.format(float(value)) for value in matrix[index]))
        console.print(table)
