"""`glossa sample-demo`: watch a real model's next-token distribution go through each sampling filter.

    glossa sample-demo "The capital of France is"
    glossa sample-demo "Once upon a time" --temperature 1.3 --top-k 40 --top-p 0.9 --min-p 0.02 --seed 7

The model (SmolLM2-135M-Instruct by default) reads the prompt once; its last position's logits go through
the same processors the engine uses (`glossa.infer.logits`), one filter at a time, and after each a bar table
shows the 15 most likely tokens and how many tokens still have any probability:

    softmax            the model's own distribution, softmax(logits)
    temperature T      softmax(logits / T): T < 1 sharpens, T > 1 flattens
    top-k K            only the K most likely survive, renormalised
    top-p P            the smallest set whose probability reaches P (the nucleus)
    min-p M            tokens below M × the top token's probability are dropped

and finally the greedy choice (argmax) next to one random draw from the filtered distribution. Option values
are checked by `SamplingParams`, so a bad one fails with the same one-line message a server request would get.
torch and the model are imported inside the command, so `glossa --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError

TOP_ROWS = 15
BAR_WIDTH = 40


def register(app: typer.Typer) -> None:
    """Add `glossa sample-demo` to the glossa app."""
    app.command("sample-demo")(sample_demo)


def sample_demo(
    prompt: Annotated[str, typer.Argument(help="The text the model continues.")],
    model: Annotated[str, typer.Option(help="A registered model, .gguf file or model folder.")] = "smollm2",
    temperature: Annotated[float, typer.Option(help="Divide the logits by T (0 = greedy).")] = 0.8,
    top_k: Annotated[int, typer.Option(help="Keep the K most likely tokens (0 = off).")] = 50,
    top_p: Annotated[float, typer.Option(help="Keep the nucleus of probability P (1 = off).")] = 0.9,
    min_p: Annotated[float, typer.Option(help="Drop tokens below M × the top probability (0 = off).")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the random draw.")] = 0,
) -> None:
    """Show the next-token distribution before and after temperature, top-k, top-p and min-p."""
    import torch

    from glossa import load_model, load_tokenizer
    from glossa.infer.logits import apply_temperature, apply_top_k_top_p_min_p
    from glossa.infer.params import SamplingParams
    from glossa.infer.sampler import Sampler, generator_for

    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, seed=seed)
    if not prompt.strip():
        raise GlossaError("the prompt is empty: give some text for the model to continue")
    tokenizer = load_tokenizer(model)
    ids = tokenizer.encode(prompt, add_special_tokens=True)
    network = load_model(model)
    with torch.no_grad():
        logits = network(torch.tensor([ids])).logits[0, -1].float().unsqueeze(0)

    def column(value: float) -> torch.Tensor:
        return torch.tensor([[value]])

    off_k, off_p, off_min = torch.tensor([[0]]), torch.tensor([[1.0]], dtype=torch.float64), column(0.0)
    stages = [("softmax: the model's distribution", logits)]
    current = logits
    if temperature > 0:
        current = apply_temperature(current, column(temperature))
        stages.append((f"temperature {temperature:g}: softmax(logits / {temperature:g})", current))
        if top_k > 0:
            current = apply_top_k_top_p_min_p(current, torch.tensor([[top_k]]), off_p, off_min)
            stages.append((f"top-k {top_k}: the {top_k} most likely, renormalised", current))
        if top_p < 1:
            p = torch.tensor([[top_p]], dtype=torch.float64)
            current = apply_top_k_top_p_min_p(current, off_k, p, off_min)
            stages.append((f"top-p {top_p:g}: the smallest set reaching {top_p:g}", current))
        if min_p > 0:
            current = apply_top_k_top_p_min_p(current, off_k, off_p, column(min_p))
            stages.append((f"min-p {min_p:g}: drop tokens below {min_p:g} × the top", current))
    console.print(f"[bold]{model}[/] continues {prompt!r} ({len(ids)} tokens)", highlight=False)
    for title, stage_logits in stages:
        console.print(_bar_table(title, stage_logits[0].softmax(-1), tokenizer))

    greedy = int(logits[0].argmax())
    result = Sampler().sample(logits, [params], generators=[generator_for(params)])
    drawn = int(result.token_ids[0])
    console.print(f"greedy (argmax): {_token_text(tokenizer, greedy)}", highlight=False)
    if temperature > 0:
        console.print(
            f"random draw (seed {seed}): {_token_text(tokenizer, drawn)}  "
            f"log p = {float(result.logprobs[0]):.3f} under the model",
            highlight=False,
        )


def _token_text(tokenizer, token_id: int) -> str:
    return f"{tokenizer.decode([token_id])!r} (id {token_id})"


def _bar_table(title: str, probs, tokenizer) -> Table:
    kept = int((probs > 0).sum())
    values, ids = probs.topk(min(TOP_ROWS, probs.numel()))
    possible = f"{kept} token{'s' if kept != 1 else ''} possible"
    table = Table(title=f"{title} — {possible}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("token")
    table.add_column("id", justify="right")
    table.add_column("p", justify="right")
    table.add_column("")
    for rank, (value, token_id) in enumerate(zip(values.tolist(), ids.tolist(), strict=True), start=1):
        if value == 0:
            break
        bar = "█" * round(value * BAR_WIDTH) or "▏"
        table.add_row(str(rank), repr(tokenizer.decode([token_id])), str(token_id), f"{value:.4f}", bar)
    return table
