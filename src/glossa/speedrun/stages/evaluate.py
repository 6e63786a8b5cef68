"""Stage 6: score the pretrained model on the held-out scenes, against two baselines, and let it write.

Loss and perplexity depend on the vocabulary; bits per byte does not, so it is the headline: the model's
total surprise over every test token, in bits, divided by the UTF-8 bytes those tokens spell (§4). Two
baselines say what the number means:

- the token-unigram model: each test token costs −log₂ of its add-one-smoothed frequency in the training
  shards, whatever came before it (the same targets, the same bytes: the gap is what context buys);
- the text's zero-order entropy from the text-statistics stage: bits per byte when each character is drawn
  independently from the corpus's own character frequencies (a model that knows even less).

Then samples from the inference engine at several temperatures and top-p values show what the numbers
sound like. The test split is touched only here, once, at the end.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams
from glossa.speedrun.frame import ReportSection, Run
from glossa.tokenizers.batch import read_token_shard
from glossa.train.data import sequential_batches
from glossa.train.evaluate import bits_per_byte, evaluate, token_byte_lengths

PROMPT = "HAMLET\nTo be, or not to be"
SAMPLING = [  # (label, temperature, top_p)
    ("greedy", 0.0, 1.0),
    ("T 0.7", 0.7, 1.0),
    ("T 1.0, top-p 0.9", 1.0, 0.9),
    ("T 1.0", 1.0, 1.0),
]


def split_tokens(run: Run, split: str) -> np.ndarray:
    return np.concatenate([read_token_shard(path)[1] for path in run.artifacts["shards"][split]])


def scored_targets(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """The targets `sequential_batches` scores: the token after each position of every full window."""
    count = (len(tokens) - 1) // seq_len
    return tokens[1 : count * seq_len + 1]


def unigram_bits_per_byte(train: np.ndarray, targets: np.ndarray, byte_lengths: torch.Tensor) -> float:
    """Bits per byte of the add-one-smoothed token-unigram model of `train`, over `targets`."""
    vocab = len(byte_lengths)
    counts = np.bincount(train.astype(np.int64), minlength=vocab).astype(np.float64) + 1.0
    log_probs = np.log(counts / counts.sum())
    lengths = byte_lengths.numpy()[targets.astype(np.int64)]
    nats = -log_probs[targets.astype(np.int64)][lengths > 0].sum()
    return bits_per_byte(float(nats), int(lengths.sum()))


def samples(run: Run, max_tokens: int) -> list[tuple[str, str]]:
    engine = Engine(run.artifacts["model"], run.artifacts["tokenizer"], max_num_seqs=len(SAMPLING))
    params = [
        SamplingParams(temperature=t, top_p=p, max_tokens=max_tokens, seed=7, ignore_eos=True)
        for _, t, p in SAMPLING
    ]
    ids = [engine.add_request(PROMPT, param) for param in params]
    finished = {}
    while engine.has_unfinished_requests():
        for output in engine.step():
            if output.finished:
                finished[output.request_id] = output.outputs[0].text
    return [(label, finished[request_id]) for (label, _, _), request_id in zip(SAMPLING, ids, strict=True)]


def evaluate_model(run: Run) -> ReportSection:
    budget, model, tokenizer = run.artifacts["budget"], run.artifacts["model"], run.artifacts["tokenizer"]
    byte_lengths = token_byte_lengths(tokenizer)
    train = split_tokens(run, "train")
    scores, unigram = {}, {}
    for split in ("validation", "test"):
        run.status(f"scoring the whole {split} split")
        tokens = split_tokens(run, split)
        batches = sequential_batches(tokens, budget.seq_len, budget.batch_size)
        with torch.no_grad():
            scores[split] = evaluate(model, batches, byte_lengths=byte_lengths)
        unigram[split] = unigram_bits_per_byte(train, scored_targets(tokens, budget.seq_len), byte_lengths)
    character_entropy = run.artifacts["unigram_bits_per_byte"]
    run.status("sampling")
    written = samples(run, budget.sample_tokens)
    test = scores["test"]
    rows = [
        f"| {split} | {s['tokens']:,} | {s['loss']:.4f} | {s['perplexity']:.2f} | **{s['bpb']:.4f}** "
        f"| {unigram[split]:.4f} |"
        for split, s in scores.items()
    ]
    sample_rows = [f"| {label} | {_one_line(text)} |" for label, text in written]
    body = "\n".join(
        [
            "Every window of the held-out splits, scored once (bits per byte counts the bytes each target "
            "token spells).",
            "",
            "| split | tokens | loss (nats/token) | perplexity | bits/byte | token-unigram bits/byte |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"On the test scenes the model needs **{test['bpb']:.3f} bits per byte**, against "
            f"{unigram['test']:.3f} for a token-unigram model of the training split and "
            f"{character_entropy:.3f} for the characters' zero-order entropy: context saves "
            f"{1 - test['bpb'] / unigram['test']:.0%} of the unigram model's bits.",
            "",
            f"Samples from the inference engine, prompt `{_one_line(PROMPT)}`, "
            f"{budget.sample_tokens} tokens each, seed 7:",
            "",
            "| sampling | continuation |",
            "|---|---|",
            *sample_rows,
        ]
    )
    return ReportSection(
        "Evaluation: held-out bits per byte and samples",
        body,
        metrics={
            "test_loss": round(test["loss"], 4),
            "test_perplexity": round(test["perplexity"], 3),
            "test_bits_per_byte": round(test["bpb"], 4),
            "val_bits_per_byte": round(scores["validation"]["bpb"], 4),
            "unigram_bits_per_byte": round(unigram["test"], 4),
            "character_entropy_bits_per_byte": round(character_entropy, 4),
            "bits_saved_vs_unigram": round(1 - test["bpb"] / unigram["test"], 4)
            if math.isfinite(test["bpb"])
            else "nan",
        },
    )


def _one_line(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ⏎ ").strip()
