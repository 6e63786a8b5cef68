"""Unicode code points: what one code point is called, what kind it is, and how to show it safely.

Unicode gives every character a number, its code point, written U+0041 for 65 ("A"), from U+0000 to U+10FFFF.
This file answers the questions a person asks about one such number:

    >>> describe_code_point(0xE9).name, describe_code_point(0xE9).category
    ('LATIN SMALL LETTER E WITH ACUTE', 'Ll')
    >>> describe_code_point(0x0A).name, describe_code_point(0x0A).shown
    ('<control-000A> LINE FEED (LF)', '\\\\n')

Names and general categories come from the Unicode database bundled with Python (`unicodedata`). Code points
that have no name get Unicode's own "code point label" (`<control-000A>`, `<private-use-E000>`,
`<noncharacter-FFFF>`, `<surrogate-D800>`, `<reserved-0378>`), so every row of a table says something true.

Showing a code point in a terminal is not as simple as printing it: a control character moves the cursor or
starts an escape sequence, a bidirectional override reverses the text after it, a combining mark lands on
whatever was printed before. `shown` is therefore an escape (`\\n`, `\\x1b`, `\\u202e`) for anything invisible
or dangerous, and a combining mark is put on a dotted circle (◌́), as Unicode's own charts do.
"""

import re
import unicodedata
from dataclasses import dataclass

from glossa.errors import GlossaError

MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)
SURROGATE = re.compile("[\ud800-\udfff]")
DOTTED_CIRCLE = "\u25cc"

# Unicode general categories (UAX #44, table 12), two letters: the class and the subclass.
GENERAL_CATEGORIES: dict[str, str] = {
    "Lu": "letter, uppercase",
    "Ll": "letter, lowercase",
    "Lt": "letter, titlecase",
    "Lm": "letter, modifier",
    "Lo": "letter, other",
    "Mn": "mark, nonspacing",
    "Mc": "mark, spacing combining",
    "Me": "mark, enclosing",
    "Nd": "number, decimal digit",
    "Nl": "number, letter",
    "No": "number, other",
    "Pc": "punctuation, connector",
    "Pd": "punctuation, dash",
    "Ps": "punctuation, open",
    "Pe": "punctuation, close",
    "Pi": "punctuation, initial quote",
    "Pf": "punctuation, final quote",
    "Po": "punctuation, other",
    "Sm": "symbol, math",
    "Sc": "symbol, currency",
    "Sk": "symbol, modifier",
    "So": "symbol, other",
    "Zs": "separator, space",
    "Zl": "separator, line",
    "Zp": "separator, paragraph",
    "Cc": "other, control",
    "Cf": "other, format",
    "Cs": "other, surrogate",
    "Co": "other, private use",
    "Cn": "other, not assigned",
}

# The C0 controls and DEL have no character name in the database, only these abbreviations and aliases.
C0_CONTROLS: tuple[str, ...] = (
    "NULL (NUL)", "START OF HEADING (SOH)", "START OF TEXT (STX)", "END OF TEXT (ETX)",
    "END OF TRANSMISSION (EOT)", "ENQUIRY (ENQ)", "ACKNOWLEDGE (ACK)", "BELL (BEL)",
    "BACKSPACE (BS)", "CHARACTER TABULATION (HT)", "LINE FEED (LF)", "LINE TABULATION (VT)",
    "FORM FEED (FF)", "CARRIAGE RETURN (CR)", "SHIFT OUT (SO)", "SHIFT IN (SI)",
    "DATA LINK ESCAPE (DLE)", "DEVICE CONTROL ONE (DC1)", "DEVICE CONTROL TWO (DC2)",
    "DEVICE CONTROL THREE (DC3)", "DEVICE CONTROL FOUR (DC4)", "NEGATIVE ACKNOWLEDGE (NAK)",
    "SYNCHRONOUS IDLE (SYN)", "END OF TRANSMISSION BLOCK (ETB)", "CANCEL (CAN)", "END OF MEDIUM (EM)",
    "SUBSTITUTE (SUB)", "ESCAPE (ESC)", "INFORMATION SEPARATOR FOUR (FS)", "INFORMATION SEPARATOR THREE (GS)",
    "INFORMATION SEPARATOR TWO (RS)", "INFORMATION SEPARATOR ONE (US)",
)  # fmt: skip
DELETE = "DELETE (DEL)"

# Format characters that reorder the text around them ("Trojan Source"): always shown as escapes.
BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
READABLE_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


class UnencodableError(GlossaError, ValueError):
    """A string holds a lone surrogate, which no Unicode encoding form may encode."""


@dataclass(frozen=True)
class CodePointInfo:
    """Everything one table row says about a code point, apart from its bytes."""

    code_point: int
    label: str  # U+00E9
    name: str  # the character name, or a <code point label> where it has none
    category: str  # two-letter general category, e.g. "Ll"
    category_meaning: str  # e.g. "letter, lowercase"
    shown: str  # safe to print in a terminal


def code_point_label(code_point: int) -> str:
    """`U+` and at least four hex digits, the way Unicode writes code points: U+0041, U+1F44D."""
    return f"U+{code_point:04X}"


def is_noncharacter(code_point: int) -> bool:
    """The 66 code points set aside for internal use: U+FDD0..U+FDEF and the last two of each plane."""
    return 0xFDD0 <= code_point <= 0xFDEF or code_point & 0xFFFE == 0xFFFE


def character_name(code_point: int) -> str:
    """The Unicode name, or the code point label (with the control's alias) where there is no name."""
    name = unicodedata.name(chr(code_point), "")
    if name:
        return name
    hex_digits = f"{code_point:04X}"
    category = unicodedata.category(chr(code_point))
    if category == "Cc":
        alias = C0_CONTROLS[code_point] if code_point < 0x20 else DELETE if code_point == 0x7F else ""
        return f"<control-{hex_digits}> {alias}".rstrip()
    if category == "Cs":
        return f"<surrogate-{hex_digits}>"
    if category == "Co":
        return f"<private-use-{hex_digits}>"
    if is_noncharacter(code_point):
        return f"<noncharacter-{hex_digits}>"
    return f"<reserved-{hex_digits}>"


def escape(code_point: int) -> str:
    """A Python-style escape that shows a code point without printing it."""
    if code_point in READABLE_ESCAPES:
        return READABLE_ESCAPES[code_point]
    if code_point <= 0xFF:
        return f"\\x{code_point:02x}"
    if code_point <= 0xFFFF:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"


def shown(code_point: int) -> str:
    """How to print one code point on its own so the reader sees it and the terminal is not disturbed."""
    category = unicodedata.category(chr(code_point))
    if category in ("Mn", "Mc", "Me"):
        return DOTTED_CIRCLE + chr(code_point)
    if code_point == 0x20:
        return "\u2420"  # SYMBOL FOR SPACE: a bare space would look like an empty cell
    # Controls, surrogates, private use, unassigned, line breaks, odd spaces and zero-width format characters
    # are either invisible or disturb the terminal on their own: show their escape instead.
    if category[0] in "CZ" or code_point in BIDI_CONTROLS:
        return escape(code_point)
    return chr(code_point)


def has_surrogates(text: str) -> bool:
    """Whether `text` holds a lone surrogate (a valid `str` can, an encodable one cannot)."""
    return SURROGATE.search(text) is not None


def printable(text: str, keep_layout: bool = True) -> str:
    """`text` with controls, surrogates and bidi overrides escaped; newlines and tabs kept if asked."""
    kept = "\n\t" if keep_layout else ""
    return "".join(
        escape(ord(char))
        if (unicodedata.category(char) in ("Cc", "Cs") and char not in kept) or ord(char) in BIDI_CONTROLS
        else char
        for char in text
    )


def one_line(text: str) -> str:
    """`text` made safe for a one-line message: every control (newlines too) escaped."""
    return printable(text, keep_layout=False)


def describe_code_point(code_point: int) -> CodePointInfo:
    """Name, general category and safe display of one code point."""
    if not 0 <= code_point <= MAX_CODE_POINT:
        raise GlossaError(f"{code_point:#x} is not a code point; Unicode ends at U+10FFFF")
    category = unicodedata.category(chr(code_point))
    return CodePointInfo(
        code_point=code_point,
        label=code_point_label(code_point),
        name=character_name(code_point),
        category=category,
        category_meaning=GENERAL_CATEGORIES[category],
        shown=shown(code_point),
    )


def require_scalar_value(code_point: int, index: int, encoding: str) -> None:
    """Refuse a lone surrogate (U+D800..U+DFFF): a code point, but not a character any encoding may hold."""
    if code_point in SURROGATES:
        raise UnencodableError(
            f"lone surrogate {code_point_label(code_point)} at index {index} cannot be encoded in "
            f"{encoding}; surrogates only exist in pairs inside UTF-16, so fix or drop it before encoding"
        )
