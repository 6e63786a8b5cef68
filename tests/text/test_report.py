"""The per-code-point rows behind `glossa text`: grapheme numbering, hex bytes, the row limit."""

from glossa.text.report import character_rows, hex_units


def test_rows_of_a_combining_sequence_share_one_character_number() -> None:
    rows = character_rows("e\u0301👍", limit=10)
    assert [row.character_number for row in rows] == [1, 1, 2]
    assert [row.info.label for row in rows] == ["U+0065", "U+0301", "U+1F44D"]
    assert (rows[2].utf8, rows[2].utf16, rows[2].utf32) == ("F0 9F 91 8D", "D83D DC4D", "0001F44D")


def test_rows_stop_at_the_limit() -> None:
    assert len(character_rows("x" * 1000, limit=7)) == 7
    assert len(character_rows("x" * 1000)) == 1000


def test_hex_units() -> None:
    assert hex_units(bytes.fromhex("d83ddc4d"), 2) == "D83D DC4D"
    assert hex_units(b"", 4) == ""
