"""What a user may type as a VALUE: a number, a special float, or raw bits.

Numbers are kept exact (a Fraction), so "0.1" means one tenth, not the float64 nearest to it, and the
rounding error shown is the error of the chosen format alone. `inf`, `-inf` and `nan` are the IEEE specials;
`0x3c00` is a bit pattern, to be read in the chosen format rather than converted.
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from glossa.errors import GlossaError

_HEX = re.compile(r"0x[0-9a-f]+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e(?P<exponent>[+-]?\d+))?")
MAX_DECIMAL_EXPONENT = 1000  # far past every format here (float64 tops out near 1e308); keeps Fractions small
MAX_DIGITS = 1000
_SPECIALS = {
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}
_NANS = {"nan", "+nan", "-nan"}


@dataclass(frozen=True)
class UserValue:
    text: str
    exact: Fraction | None = None  # a finite number
    special: float | None = None  # inf, -inf or nan
    negative_zero: bool = False  # "-0" has no Fraction of its own
    pattern: int | None = None  # raw bits from a hex literal

    @property
    def as_float(self) -> float:
        """The value as a float64 (for display); raw bit patterns have no value until a format reads them."""
        if self.special is not None:
            return self.special
        if self.negative_zero:
            return -0.0
        assert self.exact is not None
        try:
            return float(self.exact)
        except OverflowError:
            return math.inf if self.exact > 0 else -math.inf


def parse_value(text: str) -> UserValue:
    """Parse a decimal (0.1), scientific notation (1e-3), inf/-inf/nan or a hex bit pattern (0x3c00)."""
    cleaned = text.strip().lower().replace("_", "")
    if _HEX.fullmatch(cleaned):
        return UserValue(text, pattern=int(cleaned, 16))
    if cleaned in _SPECIALS:
        return UserValue(text, special=_SPECIALS[cleaned])
    if cleaned in _NANS:
        return UserValue(text, special=math.nan)
    if cleaned.startswith("-0x"):
        raise GlossaError(
            f"{text!r}: a hex bit pattern has no sign; the sign is one of its bits (e.g. 0xbc00)"
        )
    if not (match := _DECIMAL.fullmatch(cleaned)):
        raise GlossaError(
            f"{text!r} is not a number: give a decimal (0.1), scientific notation (1e-3), inf, -inf, nan "
            "or a hex bit pattern (0x3c00)"
        )
    if len(cleaned) > MAX_DIGITS or abs(int(match["exponent"] or 0)) > MAX_DECIMAL_EXPONENT:
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise GlossaError(
            f"{shown!r} is too long or too large: use at most {MAX_DIGITS} characters and an exponent "
            f"within ±{MAX_DECIMAL_EXPONENT}"
        )
    exact = Fraction(cleaned)
    return UserValue(text, exact=exact, negative_zero=exact == 0 and cleaned.startswith("-"))
