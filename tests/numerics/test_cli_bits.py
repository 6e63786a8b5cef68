"""`glossa bits` and `glossa quantize` through Typer, on a local app, so no other command group is needed.

User mistakes must surface as a GlossaError with a one-line message (the real entry point prints it on one
line of stderr and exits 2), never as any other exception.
"""

import re

import pytest
import typer
from typer.testing import CliRunner, Result

from glossa.cli import bits
from glossa.errors import GlossaError
from glossa.numerics.machine import machine_report


def run(*args: str) -> Result:
    app = typer.Typer(pretty_exceptions_enable=False)
    bits.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "220"})


def assert_ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def assert_user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, GlossaError), repr(result.exception)
    message = str(result.exception)
    assert message and "\n" not in message
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in message


def test_bits_fp16() -> None:
    output = assert_ok(run("bits", "1.5", "--as", "fp16"))
    for expected in (
        "0 01111 1000000000",
        "0x3e00",
        "15 − bias 15 = 0",
        "1.1000000000₂ = 1.5",
        "normal",
        "65504",
    ):
        assert expected in output


def test_bits_hex_pattern_is_read_as_raw_bits() -> None:
    output = assert_ok(run("bits", "0x3c00", "--as", "fp16"))
    assert "0 01111 0000000000" in output
    assert re.search(r"stored value\s*│\s*1\s", output)


def test_bits_negative_values_and_saturation() -> None:
    assert "-448" in assert_ok(run("bits", "-inf", "--as", "e4m3"))
    assert re.search(r"stored value\s*│\s*-0\s", assert_ok(run("bits", "-0", "--as", "bf16")))
    assert "inf" in assert_ok(run("bits", "1e5", "--as", "fp16"))
    assert "11111111" in assert_ok(run("bits", "-1", "--as", "int8"))
    assert "0x7f" in assert_ok(run("bits", "1e9", "--as", "int8", "--saturate"))
    assert "0x0180" in assert_ok(run("bits", "1.5", "--as", "q8.8"))
    nf4 = assert_ok(run("bits", "0.3", "--as", "nf4"))
    assert "1011" in nf4 and "0.33791524171829224" in nf4
    assert "1110" in assert_ok(run("bits", "1.3", "--as", "nf4", "--scale", "2"))


def test_bits_all_compares_every_format() -> None:
    output = assert_ok(run("bits", "--all", "0.1"))
    for name in ("fp32", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "int8", "int64", "q8.8", "nf4"):
        assert name in output
    assert "0.100000001490116119384765625" in output  # fp32
    assert "0.10009765625" in output  # bf16
    assert "does not fit in int8" in assert_ok(run("bits", "--all", "1000"))


def test_bits_machine() -> None:
    output = assert_ok(run("bits", "--machine"))
    report = machine_report()
    assert f"{report.pointer_bits} bits" in output
    assert str(report.max_size) in output
    assert f"{report.byte_order}-endian" in output
    assert "c_double" in output and "float8_e4m3fn" in output


def test_quantize_table_is_sorted_by_bits_per_weight() -> None:
    output = assert_ok(run("quantize", "--rows", "256", "--cols", "256"))
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]
    methods = [row[0] for row in rows]
    bits_per_weight = [float(row[1]) for row in rows]
    assert bits_per_weight == sorted(bits_per_weight)
    for expected in (
        "fp16 cast",
        "bf16 cast",
        "fp8-e4m3 cast",
        "fp8-e5m2 cast",
        "int8 absmax per tensor",
        "int4 zero-point per block of 64",
        "nf4 per block of 64",
        "nf4 per block of 64 + double quantization",
    ):
        assert expected in methods
    assert len(methods) == 21


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("bits", "abc", "--as", "fp16"), ("'abc' is not a number",)),
        (
            ("bits", "1", "--as", "fp7"),
            ("fp7", "fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, int8, int16, int32, int64, nf4"),
        ),
        (("bits", "1e9", "--as", "int8"), ("does not fit in int8", "--saturate")),
        (("bits", "0x1ff", "--as", "int8"), ("9 bits wide", "0xff")),
        (("bits", "0x10000", "--as", "fp16"), ("17 bits wide",)),
        (("bits", "nan", "--as", "int8"), ("no inf or NaN",)),
        (("bits", "inf", "--as", "nf4"), ("nf4",)),
        (("bits", "1", "--as", "fp16", "--scale", "2"), ("--scale",)),
        (("bits", "1", "--as", "fp16", "--saturate"), ("--saturate",)),
        (("bits", "1", "--as", "nf4", "--scale", "0"), ("--scale",)),
        (("bits", "--all", "0x3c00"), ("--as",)),
        (("bits",), ("VALUE",)),
        (("bits", "1", "--machine"), ("--machine",)),
        (("quantize", "--block", "0"), ("block size",)),
        (("quantize", "--rows", "0"), ("positive",)),
        (("quantize", "--rows", "100000", "--cols", "100000"), ("smaller",)),
    ],
)
def test_bad_input_is_a_one_line_error(args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    assert_user_error(run(*args), *fragments)


def test_malformed_options_are_usage_errors_not_crashes() -> None:
    for args in (("quantize", "--rows", "abc"), ("bits", "1", "--as", "nf4", "--scale", "x")):
        result = run(*args)
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit)  # Typer's usage error
