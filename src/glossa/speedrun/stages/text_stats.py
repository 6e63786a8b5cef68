"""Stage 2: the corpus as the model will first see it — bytes, code points, characters, and how predictable.

Reports the three ways of counting text (UTF-8 bytes, Unicode code points, user-perceived characters), the
UTF-8 byte-length histogram, zero-order entropy per character and per byte (the baseline any model must
beat), and the Zipf plot of word frequencies with its fitted exponent.
"""

from __future__ import annotations

import numpy as np

from glossa.evals.information import unigram_entropy_rates
from glossa.evals.zipf import word_frequencies, zipf_fit
from glossa.plots import new_figure, save_figure
from glossa.speedrun.frame import ReportSection, Run
from glossa.text.counts import count_units, utf8_length_histogram


def _histogram_plot(run: Run, histogram: dict[int, int]):
    figure, axes = new_figure(5.0, 3.2)
    lengths = [1, 2, 3, 4]
    counts = [histogram.get(length, 0) for length in lengths]
    bars = axes.bar([str(length) for length in lengths], counts, color="#4477aa")
    axes.set_yscale("symlog")
    axes.bar_label(bars, labels=[f"{count:,}" for count in counts], fontsize=8)
    axes.set_xlabel("UTF-8 bytes per code point")
    axes.set_ylabel("code points (log)")
    axes.set_title("UTF-8 byte lengths in the corpus")
    return save_figure(figure, run.plot_path("utf8_byte_lengths"))


def _zipf_plot(run: Run, frequencies: list[int], exponent: float, intercept: float):
    figure, axes = new_figure(5.0, 3.6)
    ranks = np.arange(1, len(frequencies) + 1)
    axes.loglog(ranks, frequencies, ".", markersize=2, color="#4477aa", label="words")
    fitted = 10**intercept * ranks.astype(float) ** -exponent
    axes.loglog(ranks, fitted, "-", color="#cc6677", label=f"fit: f ∝ r^-{exponent:.2f}")
    axes.set_xlabel("rank")
    axes.set_ylabel("frequency")
    axes.set_title("Zipf's law: word frequency against rank")
    axes.legend()
    return save_figure(figure, run.plot_path("zipf"))


def text_statistics(run: Run) -> ReportSection:
    text: str = run.artifacts["corpus_text"]
    counts = count_units(text)
    histogram = utf8_length_histogram(text)
    rates = unigram_entropy_rates(text)
    words = word_frequencies(text)
    frequencies = [count for _, count in words]
    fit = zipf_fit(frequencies)
    plots = [
        _histogram_plot(run, histogram),
        _zipf_plot(run, frequencies, fit.exponent, fit.intercept),
    ]
    run.artifacts["unigram_bits_per_byte"] = rates.bits_per_byte
    top_words = ", ".join(f"{word} ({count:,})" for word, count in words[:10])
    body = f"""
| unit | count |
|---|---:|
| UTF-8 bytes | {counts.utf8_bytes:,} |
| UTF-16 bytes | {counts.utf16_bytes:,} |
| UTF-32 bytes | {counts.utf32_bytes:,} |
| code points | {counts.code_points:,} |
| characters (grapheme clusters) | {counts.graphemes:,} |
| ASCII code points | {counts.ascii_code_points:,} ({counts.ascii_code_points / counts.code_points:.4%}) |
| distinct code points | {rates.distinct_characters} |
| words / distinct words | {sum(frequencies):,} / {len(words):,} |

Zero-order entropy (each symbol coded by its own frequency, no context): **{rates.bits_per_character:.3f} bits
per character**, which over UTF-8 is **{rates.bits_per_byte:.3f} bits per byte**; the byte distribution itself
has {rates.byte_entropy_bits:.3f} bits of entropy per byte. Any model of this corpus that uses context must
beat these numbers.

Zipf's law: word frequency falls as rank^-s with **s = {fit.exponent:.3f}** (least squares on the top
{fit.ranks_used} ranks, R² = {fit.r_squared:.4f}). Most frequent: {top_words}.
"""
    return ReportSection(
        "Text statistics: bytes, code points, entropy, Zipf",
        body,
        plots=plots,
        metrics={
            "utf8_bytes": counts.utf8_bytes,
            "code_points": counts.code_points,
            "graphemes": counts.graphemes,
            "bits_per_character": round(rates.bits_per_character, 4),
            "bits_per_byte": round(rates.bits_per_byte, 4),
            "zipf_exponent": round(fit.exponent, 4),
        },
    )
