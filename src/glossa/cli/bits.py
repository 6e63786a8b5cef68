"""`glossa bits` and `glossa quantize`: number formats and quantization, shown as tables.

    glossa bits 0.1 --as bf16          the fields, the stored value, the rounding error, the format's range
    glossa bits 0x3c00 --as fp16       raw bits read in a format (1.0)
    glossa bits --all 0.1              one value in every format
    glossa bits --machine              word size, byte order, alignment of C/numpy/torch types
    glossa quantize --rows 256         one Gaussian matrix quantized every way, by bits per weight

The work happens in glossa.numerics; this file parses options and draws Rich tables. The `bits` command
accepts unknown dash-words as its VALUE so that `glossa bits -inf --as fp16` reads -inf as a number.
"""

import math
from typing import Annotated

import typer
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError
from glossa.numerics.bitview import BitReport, compare_all, describe
from glossa.numerics.demo import compare_methods, gaussian_weights
from glossa.numerics.formats import valid_format_names
from glossa.numerics.machine import MachineReport, machine_report
from glossa.numerics.quantize import check_block_size


def bits(
    value: Annotated[
        str | None,
        typer.Argument(help="A number (0.1, 1e-3, -inf, nan) or raw bits (0x3c00).", show_default=False),
    ] = None,
    format_name: Annotated[str, typer.Option("--as", help=f"Format: {valid_format_names()}.")] = "fp32",
    all_formats: Annotated[bool, typer.Option("--all", help="Compare every format for VALUE.")] = False,
    machine: Annotated[
        bool, typer.Option("--machine", help="Word size, byte order and type alignment.")
    ] = False,
    scale: Annotated[
        float | None, typer.Option("--scale", help="nf4 only: the block absmax (default 1).")
    ] = None,
    saturate: Annotated[
        bool, typer.Option("--saturate", help="Clamp out-of-range ints instead of failing.")
    ] = False,
) -> None:
    """Show how a value is stored: sign, exponent and mantissa bits, rounding error, range."""
    if machine:
        if value is not None or all_formats:
            raise GlossaError("--machine takes no VALUE and no --all: run `glossa bits --machine` alone")
        _print_machine(machine_report())
        return
    if value is None:
        raise GlossaError("give a VALUE, e.g. `glossa bits 0.1 --as fp16`, or use --machine")
    if all_formats:
        _print_comparison(value, saturate)
        return
    _print_report(describe(value, format_name, scale=scale, saturate=saturate))


def quantize(
    rows: Annotated[int, typer.Option(help="Rows of the weight matrix.")] = 1024,
    cols: Annotated[int, typer.Option(help="Columns of the weight matrix.")] = 1024,
    block: Annotated[int, typer.Option(help="Block size for per-block methods and NF4.")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    std: Annotated[float, typer.Option(help="Standard deviation of the weights.")] = 0.02,
) -> None:
    """Quantize one Gaussian weight matrix every way and compare bits per weight against error."""
    check_block_size(block)
    weights = gaussian_weights(rows, cols, seed, std)
    table = Table(title=f"{rows}×{cols} weights ~ N(0, {std}²), seed {seed}, block {block}")
    table.add_column("method")
    for heading in ("bits/weight", "MSE", "max abs error", "SQNR dB"):
        table.add_column(heading, justify="right")
    for result in compare_methods(weights, block):
        sqnr = "∞" if math.isinf(result.sqnr_db) else f"{result.sqnr_db:.1f}"
        table.add_row(
            result.method,
            f"{result.bits_per_weight:.3f}",
            f"{result.mse:.3e}",
            f"{result.max_abs_error:.3e}",
            sqnr,
        )
    console.print(table)


def _print_report(report: BitReport) -> None:
    fields = Table(title=report.title, title_justify="left")
    for heading in ("field", "bits", "meaning"):
        fields.add_column(heading)
    for row in report.fields:
        fields.add_row(*row)
    console.print(fields)
    for title, rows in (("stored", report.outcome), ("format", report.facts)):
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _print_comparison(value: str, saturate: bool) -> None:
    table = Table(title=f"{value} in every format", title_justify="left")
    for heading in ("format", "bits", "stored value", "abs error", "rel error", "note"):
        table.add_column(heading)
    for row in compare_all(value, saturate=saturate):
        table.add_row(row.format, row.bits, row.stored, row.abs_error, row.rel_error, row.note)
    console.print(table)


def _print_machine(report: MachineReport) -> None:
    word = Table(title="this machine", title_justify="left", show_header=False)
    word.add_column(style="bold")
    word.add_column()
    word.add_row("platform machine", report.machine)
    word.add_row(
        "pointer size", f"{report.pointer_bits} bits ({report.pointer_bits // 8} bytes): the word size"
    )
    word.add_row("sys.maxsize", f"{report.max_size} = 2^{report.max_size.bit_length()} - 1")
    word.add_row("byte order", f"{report.byte_order}-endian")
    pointer = f"{report.torch_data_pointer:#x}: aligned to {report.torch_data_alignment} bytes"
    word.add_row("torch tensor data", f"{pointer} (torch's CPU allocator promises 64)")
    console.print(word)
    layouts = Table(title="type sizes and alignment (bytes)", title_justify="left")
    for heading in ("library", "type", "size", "alignment"):
        layouts.add_column(heading)
    for layout in report.layouts:
        alignment = "—" if layout.alignment_bytes is None else str(layout.alignment_bytes)
        layouts.add_row(layout.library, layout.name, str(layout.size_bytes), alignment)
    console.print(layouts)


def register(app: typer.Typer) -> None:
    app.command("bits", context_settings={"ignore_unknown_options": True})(bits)
    app.command("quantize")(quantize)
