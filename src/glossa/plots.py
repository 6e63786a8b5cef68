"""Matplotlib set up for files, not windows: the Agg backend, one house style, atomic PNG saves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from glossa.atomic import atomic_write


def new_figure(width: float = 6.4, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(width, height), dpi=110, layout="constrained")
    axes.grid(True, alpha=0.3)
    return figure, axes


def save_figure(figure: Figure, path: Path) -> Path:
    """Write the figure as a PNG atomically and free it."""
    try:
        return atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    finally:
        plt.close(figure)
