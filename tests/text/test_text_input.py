"""Reading text input: files, stdin, command-line arguments, and every way that can go wrong."""

import io
import sys
from pathlib import Path

import pytest

from glossa.errors import GlossaError
from glossa.text import text_input
from glossa.text.codepoints import UnencodableError
from glossa.text.text_input import read_text_file, text_from_argument


def test_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_bytes("héllo 中 👍\n".encode())
    source = read_text_file(str(path))
    assert (source.text, source.byte_count, source.is_valid_utf8) == ("héllo 中 👍\n", 16, True)
    assert (source.kind, source.label) == ("file", str(path))


def test_invalid_file_is_decoded_with_replacements(tmp_path: Path) -> None:
    data = b"ok \xff caf\xc3\xa9 \xe4\xb8"
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    source = read_text_file(str(path))
    assert source.text == data.decode("utf-8", "replace")
    assert [sequence.offset for sequence in source.invalid] == [3, 11]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GlossaError, match=r"^no such file: .*missing\.txt$"):
        read_text_file(str(tmp_path / "missing.txt"))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(GlossaError, match="is a directory"):
        read_text_file(str(tmp_path))


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(5, "Input/output error"), "Input/output error"),
    ],
)
def test_unreadable_file(monkeypatch: pytest.MonkeyPatch, error: OSError, message: str) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(text_input, "open", refuse, raising=False)  # tests run as root, so chmod cannot do it
    with pytest.raises(GlossaError, match=f"^cannot read secret.txt: {message}"):
        read_text_file("secret.txt")


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 101)
    assert read_text_file(str(path), max_bytes=101).byte_count == 101
    with pytest.raises(GlossaError, match="larger than the 100-byte limit"):
        read_text_file(str(path), max_bytes=100)


def test_unbounded_device_stops_at_the_limit() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(GlossaError, match="limit"):
        read_text_file("/dev/zero", max_bytes=1000)


def test_newline_in_a_path_stays_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(GlossaError) as raised:
        read_text_file(str(tmp_path / "two\nlines"))
    assert "\n" not in str(raised.value)


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\xffb")))
    source = read_text_file("-")
    assert (source.kind, source.label, source.text) == ("stdin", "stdin", "a\ufffdb")


def test_argument_with_smuggled_bytes_is_decoded() -> None:
    source = text_from_argument("h\udcc3\udca9\udcffi")  # "h" + UTF-8 "é" + 0xFF + "i", as argv delivers them
    assert source.text == "hé\ufffdi"
    assert [(sequence.offset, sequence.raw) for sequence in source.invalid] == [(3, b"\xff")]


def test_argument_with_a_real_lone_surrogate_is_refused() -> None:
    with pytest.raises(UnencodableError, match="lone surrogate U\\+D800 at index 1"):
        text_from_argument("a\ud800")
