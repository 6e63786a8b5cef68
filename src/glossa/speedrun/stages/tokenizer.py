"""Stage 3: train the run's own byte-level BPE on the corpus and compare it with SmolLM2's tokenizer.

A vocabulary learned on the plays compresses the plays better than a general one many times its size; the
table shows by how much (bytes and characters per token, fertility, vocabulary use), and the histogram shows
how many bytes each token spells. The trained tokenizer is saved in glossa's format (with its readable
`.vocab`) and as HF `tokenizer.json`, and handed to the later stages.
"""

from __future__ import annotations

from collections import Counter

from glossa.plots import new_figure, save_figure
from glossa.speedrun.frame import ReportSection, Run
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.bpe_files import save_bpe, save_hf_tokenizer_json
from glossa.tokenizers.bpe_train import train_bpe
from glossa.tokenizers.loading import load_tokenizer
from glossa.tokenizers.stats import TokenizerStats, stats_of_ids

VOCAB_SIZE = 4096
PRETOKENIZER = "gpt2"
END_OF_TEXT = "<|endoftext|>"


def _token_length_plot(run: Run, tokenizers: dict[str, tuple[Tokenizer, list[int]]]):
    figure, axes = new_figure(5.6, 3.4)
    width = 0.4
    for offset, (label, (tokenizer, ids)) in enumerate(tokenizers.items()):
        lengths = Counter(len(tokenizer.token_bytes(token_id)) for token_id in ids)
        shown = range(1, 13)
        total = sum(lengths.values())
        shares = [lengths.get(length, 0) / total for length in shown]
        axes.bar([length + (offset - 0.5) * width for length in shown], shares, width=width, label=label)
    axes.set_xlabel("bytes spelled by the token")
    axes.set_ylabel("share of tokens in the corpus")
    axes.set_title("Token lengths: the run's BPE against SmolLM2's")
    axes.legend()
    return save_figure(figure, run.plot_path("token_lengths"))


def _row(label: str, stats: TokenizerStats) -> str:
    return (
        f"| {label} | {stats.vocab_size:,} | {stats.tokens:,} | {stats.bytes_per_token:.3f} "
        f"| {stats.characters_per_token:.3f} | {stats.fertility:.3f} | {stats.vocabulary_use:.1%} |"
    )


def train_tokenizer(run: Run) -> ReportSection:
    text: str = run.artifacts["corpus_text"]
    documents = run.artifacts["documents"]
    trained = train_bpe(
        (document.text for document in documents),
        VOCAB_SIZE,
        pretokenizer=PRETOKENIZER,
        special_tokens=[END_OF_TEXT],
        progress=False,
    )
    saved = save_bpe(trained, run.run_dir / "tokenizer" / "tokenizer.glossa.json")
    save_hf_tokenizer_json(trained, saved.parent / "tokenizer.json")
    run.artifacts["tokenizer"] = trained
    run.artifacts["tokenizer_path"] = saved

    smollm2 = load_tokenizer("smollm2")
    ids = {"this run's BPE": trained.encode(text), "SmolLM2": smollm2.encode(text)}
    stats = {
        "this run's BPE": stats_of_ids(trained, text, ids["this run's BPE"]),
        "SmolLM2": stats_of_ids(smollm2, text, ids["SmolLM2"]),
    }
    plot = _token_length_plot(
        run, {"this run's BPE": (trained, ids["this run's BPE"]), "SmolLM2": (smollm2, ids["SmolLM2"])}
    )
    ours, theirs = stats["this run's BPE"], stats["SmolLM2"]
    body = "\n".join(
        [
            f"A byte-level BPE with {VOCAB_SIZE:,} ids (`{PRETOKENIZER}` pre-tokenizer, `{END_OF_TEXT}` "
            f"as its one special token) trained on the {len(documents)} plays, against SmolLM2-135M's "
            f"tokenizer ({theirs.vocab_size:,} ids), both measured on the whole corpus (the text the BPE "
            "was trained on).",
            "",
            "| tokenizer | vocabulary | tokens | bytes/token | chars/token | tokens/word | vocab used |",
            "|---|---:|---:|---:|---:|---:|---:|",
            _row("this run's BPE", ours),
            _row("SmolLM2", theirs),
            "",
            f"The run's tokenizer needs {ours.tokens / theirs.tokens:.2f}× SmolLM2's token count with "
            f"{VOCAB_SIZE / theirs.vocab_size:.1%} of its vocabulary. Saved as "
            f"`{saved.relative_to(run.run_dir)}` (with a readable `.vocab`) and "
            "`tokenizer/tokenizer.json` (HF).",
        ]
    )
    return ReportSection(
        "Tokenization: the run's BPE",
        body,
        plots=[plot],
        metrics={
            "vocab_size": VOCAB_SIZE,
            "bytes_per_token": round(ours.bytes_per_token, 4),
            "smollm2_bytes_per_token": round(theirs.bytes_per_token, 4),
        },
    )
