"""The data card (§23 Data Governance): what went into a prepared dataset, written beside it.

`data_card.json` (for machines) and `data_card.md` (for people) say: the sources and the full configuration;
for every stage the documents in, kept, changed and dropped by reason, and the quarantine by reason, with the
check that input = kept + dropped + quarantined; the licences and consent states that went in; the language
mix (py3langid's guess, or "und" when it is not installed); documents and tokens per split with the tokenizer
and its fingerprint; document-length percentiles (§6); and the raw text's zero-order entropy and bits per
byte (§4, `glossa.evals.information`) with a Zipf fit and plot of its words (§6, `glossa.evals.zipf`).

The statistics are computed on a sample: the first `stats_max_bytes` of raw text (the card says how much
was used), so the card costs bounded memory whatever the corpus size, and the functions of §4 and §6 run
unchanged on it.
"""

from __future__ import annotations

import array
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from glossa.atomic import atomic_write_text
from glossa.data.records import Record
from glossa.data.sources import Quarantine
from glossa.evals.information import unigram_entropy_rates
from glossa.evals.zipf import word_frequencies, zipf_fit
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.batch import read_token_shard

PERCENTILES = (5, 50, 95, 99)


class CorpusStatistics:
    """Running counts for the card: a bounded sample of the raw text, and what was kept."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.raw_bytes = 0
        self.sampled_bytes = 0
        self.sample: list[str] = []
        self.languages: Counter[str] = Counter()
        self.licences: Counter[str] = Counter()
        self.consent: Counter[str] = Counter()

    def add_raw(self, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        self.raw_bytes += size
        if self.sampled_bytes < self.max_bytes:
            self.sampled_bytes += size
            self.sample.append(text)

    def add_kept(self, record: Record) -> None:
        self.languages[str(record.metadata.get("language", "und"))] += 1
        self.licences[record.licence] += 1
        self.consent[record.consent] += 1

    def sample_text(self) -> str:
        return "\n".join(self.sample)


def zipf_plot(frequencies: list[int], path: Path) -> dict[str, Any] | None:
    """Rank-frequency on log-log axes with the fitted line; the fit, or None for fewer than two words."""
    from glossa.plots import new_figure, save_figure

    if len(frequencies) < 2:
        return None
    fit = zipf_fit(frequencies)
    figure, axes = new_figure()
    # at most ~600 log-spaced ranks: a plot of every one of a million words draws nothing more
    ranks = np.unique(np.geomspace(1, len(frequencies), num=600).astype(np.int64))
    axes.loglog(ranks, np.asarray(frequencies)[ranks - 1], ".", markersize=3, label="words")
    fitted_ranks = ranks[ranks <= fit.ranks_used]
    fitted = 10**fit.intercept * fitted_ranks.astype(np.float64) ** -fit.exponent
    axes.loglog(fitted_ranks, fitted, "-", label=f"fit s = {fit.exponent:.2f}")
    axes.set_xlabel("rank")
    axes.set_ylabel("frequency")
    axes.set_title("Zipf plot of the raw text's words")
    axes.legend()
    save_figure(figure, path)
    return {
        "exponent": fit.exponent,
        "intercept": fit.intercept,
        "r_squared": fit.r_squared,
        "ranks_used": fit.ranks_used,
        "plot": path.name,
    }


def write_card(
    out_dir: Path,
    *,
    sources: list[str],
    config: dict[str, Any],
    tokenizer: Tokenizer,
    read: int,
    quarantine: Quarantine,
    stages: list[dict[str, Any]],
    split_counts: Counter[str],
    shards: dict[str, list[Path]],
    lengths: array.array,
    statistics: CorpusStatistics,
) -> dict[str, Any]:
    """Write data_card.json, data_card.md and zipf.png into `out_dir`; return the card."""
    kept = sum(split_counts.values())
    dropped = sum(sum(stage["dropped"].values()) for stage in stages)
    headers = {split: [read_token_shard(path)[0] for path in paths] for split, paths in shards.items()}
    tokens = {split: sum(header.token_count for header in values) for split, values in headers.items()}
    fingerprint = next(header.fingerprint for values in headers.values() for header in values).hex()
    sample = statistics.sample_text()
    entropy = unigram_entropy_rates(sample)
    frequencies = [count for _, count in word_frequencies(sample)]
    del sample
    lengths_array = np.frombuffer(lengths, dtype=np.int64) if len(lengths) else np.zeros(1, dtype=np.int64)
    card: dict[str, Any] = {
        "sources": sources,
        "accounting": {
            "input": read + quarantine.total,
            "read": read,
            "quarantined": quarantine.total,
            "dropped": dropped,
            "kept": kept,
            "balanced": read + quarantine.total == kept + dropped + quarantine.total,
        },
        "quarantine": dict(quarantine.reasons),
        "stages": stages,
        "splits": {
            split: {
                "documents": split_counts[split],
                "tokens": tokens[split],
                "shards": [str(path.relative_to(out_dir)) for path in shards[split]],
            }
            for split in shards
        },
        "tokenizer": {
            "name": tokenizer.name,
            "vocab_size": tokenizer.vocab_size,
            "fingerprint": fingerprint,
        },
        "languages": dict(statistics.languages.most_common()),
        "licences": dict(statistics.licences.most_common()),
        "consent": dict(statistics.consent.most_common()),
        "document_characters_percentiles": {
            f"p{p}": float(np.percentile(lengths_array, p)) for p in PERCENTILES
        },
        "raw_text": {
            "bytes": statistics.raw_bytes,
            "sampled_bytes": statistics.sampled_bytes,
            "bits_per_character": entropy.bits_per_character,
            "bits_per_byte": entropy.bits_per_byte,
            "byte_entropy_bits": entropy.byte_entropy_bits,
            "distinct_characters": entropy.distinct_characters,
            "distinct_words": len(frequencies),
        },
        "zipf": zipf_plot(frequencies, out_dir / "zipf.png"),
        "config": config,
    }
    atomic_write_text(out_dir / "data_card.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out_dir / "data_card.md", card_markdown(card))
    return card


def card_markdown(card: dict[str, Any]) -> str:
    accounting = card["accounting"]
    lines = [
        "# Data card",
        "",
        f"Sources: {', '.join(card['sources'])}",
        "",
        "## Accounting",
        "",
        f"input {accounting['input']:,} = kept {accounting['kept']:,} + dropped {accounting['dropped']:,} "
        f"+ quarantined {accounting['quarantined']:,} "
        f"({'balanced' if accounting['balanced'] else 'NOT balanced'})",
        "",
        "| stage | in | kept | changed | dropped (by reason) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for stage in card["stages"]:
        reasons = ", ".join(f"{reason}: {count:,}" for reason, count in stage["dropped"].items()) or "-"
        lines.append(
            f"| {stage['name']} | {stage['in']:,} | {stage['kept']:,} | {stage['changed']:,} | {reasons} |"
        )
    details = [(stage["name"], stage["details"]) for stage in card["stages"] if stage["details"]]
    for name, values in details:
        lines.append(f"\n{name}: " + ", ".join(f"{key} {value:,}" for key, value in values.items()))
    if card["quarantine"]:
        lines += [
            "",
            "Quarantined (see quarantine.jsonl): "
            + ", ".join(f"{reason}: {count:,}" for reason, count in card["quarantine"].items()),
        ]
    lines += ["", "## Splits", "", "| split | documents | tokens |", "| --- | ---: | ---: |"]
    for split, values in card["splits"].items():
        lines.append(f"| {split} | {values['documents']:,} | {values['tokens']:,} |")
    tokenizer = card["tokenizer"]
    raw = card["raw_text"]
    lines += [
        "",
        f"Tokenizer: {tokenizer['name']} (vocabulary {tokenizer['vocab_size']:,}, "
        f"fingerprint {tokenizer['fingerprint'][:16]}…)",
        "",
        "## Governance",
        "",
        f"Licences: {json.dumps(card['licences'])}; consent: {json.dumps(card['consent'])}; "
        f"languages: {json.dumps(card['languages'])}",
        "",
        "## Raw text",
        "",
        f"{raw['bytes']:,} bytes ({raw['sampled_bytes']:,} sampled for statistics): "
        f"{raw['bits_per_character']:.3f} bits per character, {raw['bits_per_byte']:.3f} bits per byte "
        f"(zero-order), byte entropy {raw['byte_entropy_bits']:.3f} bits; "
        f"{raw['distinct_words']:,} distinct words.",
        "",
        "Document length in characters: "
        + ", ".join(f"{key} {value:,.0f}" for key, value in card["document_characters_percentiles"].items()),
    ]
    if card["zipf"]:
        zipf = card["zipf"]
        lines += [
            "",
            f"Zipf exponent s = {zipf['exponent']:.3f} (R² {zipf['r_squared']:.3f}, "
            f"top {zipf['ranks_used']} ranks)",
            "",
            f"![Zipf plot]({zipf['plot']})",
        ]
    return "\n".join(lines) + "\n"
