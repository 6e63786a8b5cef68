"""`glossa text`: a string or a file taken apart, code point by code point and byte by byte.

    glossa text "héllo 中 👍"
    glossa text --file notes.txt --limit 50
    glossa text --file dump.bin --strict

The command is a thin layer over `glossa.text`: it reads the input (`text_input`), builds the rows (`report`)
and the totals (`counts`), and draws them as Rich tables. Invalid UTF-8 in a file is a finding, not a failure:
it is listed by byte offset and reason, shown as U+FFFD, and the command exits 0, unless `--strict` asks for a
refusal. The per-code-point table stops at `--limit` rows; the totals always cover the whole input.
"""

from typing import Annotated

import typer
from rich import box
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from glossa.cli.console import console
from glossa.errors import GlossaError
from glossa.text.codepoints import printable
from glossa.text.counts import TextCounts, counts_from_histogram, utf8_length_histogram
from glossa.text.report import character_rows
from glossa.text.text_input import DEFAULT_MAX_BYTES, TextInput, read_text_file, text_from_argument
from glossa.text.utf8 import InvalidSequence

DEFAULT_LIMIT = 200
PREVIEW_CODE_POINTS = 2000
FILE_HELP = "Read the text from this file ('-': stdin) and validate it as UTF-8."
STRICT_HELP = "Fail on invalid UTF-8 instead of reporting it."
BYTE_LENGTHS = {1: "one-byte", 2: "two-byte", 3: "three-byte", 4: "four-byte"}


def register(app: typer.Typer) -> None:
    """Add the `text` command to the glossa app."""
    app.command("text")(inspect_text)


def inspect_text(
    string: Annotated[str | None, typer.Argument(help="The text to inspect.", show_default=False)] = None,
    file: Annotated[str | None, typer.Option("--file", "-f", help=FILE_HELP, show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="Rows of the per-code-point table (0: none).")] = DEFAULT_LIMIT,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    max_bytes: Annotated[int, typer.Option(help="Refuse files larger than this.")] = DEFAULT_MAX_BYTES,
) -> None:
    """Show each code point of a text (name, category, ASCII status, UTF-8/16/32 bytes) and its lengths."""
    if limit < 0:
        raise GlossaError(f"--limit must be 0 or more, not {limit}")
    if string is not None and file is not None:
        raise GlossaError("give either a STRING or --file, not both")
    if string is None and file is None:
        raise GlossaError('nothing to inspect: give a STRING (glossa text "héllo") or --file PATH')
    source = read_text_file(file, max_bytes) if file is not None else text_from_argument(string or "")
    if strict and source.invalid:
        first = source.invalid[0]
        raise GlossaError(
            f"{source.label} is not valid UTF-8: {len(source.invalid)} invalid sequence(s), "
            f"first at byte {first.offset} ({first.reason}); drop --strict to see them all"
        )
    histogram = utf8_length_histogram(source.text)
    counts = counts_from_histogram(source.text, histogram)
    console.print(preview_panel(source))
    if source.invalid:
        console.print(invalid_table(source.invalid, limit))
    if limit:
        console.print(code_point_table(source.text, limit, counts.code_points))
    console.print(totals_table(source, counts, histogram))


def preview_panel(source: TextInput) -> Panel:
    """The text itself, controls escaped and invalid bytes shown as U+FFFD, cut after PREVIEW_CODE_POINTS."""
    shown = printable(source.text[:PREVIEW_CODE_POINTS])
    left_out = len(source.text) - PREVIEW_CODE_POINTS
    if left_out > 0:
        shown += f" … ({left_out:,} more code points)"
    return Panel(Text(shown), title=Text(f"text from {source.label}"), title_align="left", expand=False)


def invalid_table(invalid: tuple[InvalidSequence, ...], limit: int) -> Table:
    """Where the input is not UTF-8 and why, one row per U+FFFD."""
    title = f"{len(invalid):,} invalid UTF-8 sequence(s), each shown as U+FFFD"
    table = Table(title=title, title_justify="left")
    table.add_column("byte offset", justify="right", no_wrap=True)
    table.add_column("bytes", no_wrap=True)
    table.add_column("reason")
    for sequence in invalid[:limit]:
        table.add_row(str(sequence.offset), sequence.raw.hex(" ").upper(), Text(sequence.reason))
    left_out = len(invalid) - limit
    if left_out > 0:
        table.caption = f"{left_out:,} more not shown; raise --limit to see them"
    return table


def code_point_table(text: str, limit: int, code_points: int) -> Table:
    """One row per code point, for the first `limit` code points."""
    rows = character_rows(text, limit)
    shown = f"first {len(rows):,} of {code_points:,}" if code_points > len(rows) else f"{code_points:,}"
    # A light box and no edge padding keep all eight columns inside an 80-column terminal.
    table = Table(
        title=f"Code points ({shown})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)  # which user-perceived character: 1, 2, 2, 3, ...
    table.add_column("char", no_wrap=True)
    table.add_column("code\npoint", no_wrap=True)
    table.add_column("name and category", overflow="fold")
    table.add_column("ASCII / 8-bit", overflow="fold")
    table.add_column("UTF-8")  # hex bytes wrap at spaces on narrow terminals
    table.add_column("UTF-16BE")
    table.add_column("UTF-32BE", no_wrap=True)
    for row in rows:
        info = row.info
        name_and_category = Text(info.name)
        name_and_category.append(f"\n{info.category} {info.category_meaning}", style="dim")
        table.add_row(
            str(row.character_number),
            Text(info.shown),
            info.label,
            name_and_category,
            Text(row.eight_bit),
            row.utf8,
            row.utf16,
            row.utf32,
        )
    if code_points > len(rows):
        table.caption = f"{code_points - len(rows):,} more code points not shown; pass --limit N to see more"
    return table


def totals_table(source: TextInput, counts: TextCounts, histogram: dict[int, int]) -> Table:
    """The lengths of the whole input in every unit."""
    table = Table(title="Totals", title_justify="left")
    table.add_column("unit")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row("characters (grapheme clusters)", f"{counts.graphemes:,}", "what a reader counts")
    table.add_row("code points", f"{counts.code_points:,}", "Unicode scalar values")
    by_length = ", ".join(f"{count:,} {BYTE_LENGTHS[length]}" for length, count in histogram.items() if count)
    table.add_row("UTF-8 bytes", f"{counts.utf8_bytes:,}", f"code points: {by_length}" if by_length else "")
    table.add_row("UTF-16 bytes", f"{counts.utf16_bytes:,}", f"{histogram[4]:,} surrogate pair(s), no BOM")
    table.add_row("UTF-32 bytes", f"{counts.utf32_bytes:,}", "4 bytes per code point, no BOM")
    share = f"{counts.ascii_share:.1%} of code points" if counts.code_points else "empty text"
    table.add_row("ASCII code points", f"{counts.ascii_code_points:,}", share)
    if source.kind != "argument" or source.invalid:
        table.add_row("input bytes", f"{source.byte_count:,}", "as read, before decoding")
        table.add_row("invalid UTF-8 sequences", f"{len(source.invalid):,}", "each replaced by one U+FFFD")
    return table
