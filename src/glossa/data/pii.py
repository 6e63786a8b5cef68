"""PII redaction (§13): e-mail addresses, phone numbers, IP addresses, payment cards and IBANs replaced by
placeholders, with counts by kind.

Patterns find candidates; checksums decide for the two kinds that have them, so a 16-digit order number is
not taken for a card: a card number (13–19 digits, spaces or dashes allowed between groups) must pass Luhn's
check, and an IBAN (country code, two check digits, up to 30 letters and digits) must leave remainder 1 mod
97 once its first four characters move to the end and letters become 10–35 (ISO 13616). IPv6 candidates are
confirmed by `ipaddress`; IPv4 needs four octets of at most 255. Phone numbers are the loosest: an optional
+country code, then three or more groups of digits separated by space, dot or dash (or an area code in
parentheses), 9 to 15 digits in all, and not part of a longer run of digits.

Order matters: IBANs and cards go first, so their digits are not read as phone numbers.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable

PLACEHOLDERS = {
    "iban": "<IBAN>",
    "card": "<CARD_NUMBER>",
    "email": "<EMAIL>",
    "ipv6": "<IP_ADDRESS>",
    "ipv4": "<IP_ADDRESS>",
    "phone": "<PHONE>",
}

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_EMAIL = re.compile(
    r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\d]|[ .-]\d)"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _ipv6(match: str) -> bool:
    try:
        ipaddress.IPv6Address(match)
    except ValueError:
        return False
    return True


def _ipv4(match: str) -> bool:
    return all(int(octet) <= 255 for octet in match.split("."))


def _phone(match: str) -> bool:
    return 9 <= sum(char.isdigit() for char in match) <= 15


# A kind is looked for only when its tell-tale character is in the text (most prose has no digits at all).
GATES = {
    "iban": re.compile(r"\d"),
    "card": re.compile(r"\d"),
    "email": re.compile("@"),
    "ipv6": re.compile(":"),
    "ipv4": re.compile(r"\d"),
    "phone": re.compile(r"\d"),
}

CHECKS: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("iban", _IBAN, iban_valid),
    ("card", _CARD, _card),
    ("email", _EMAIL, lambda match: True),
    ("ipv6", _IPV6, _ipv6),
    ("ipv4", _IPV4, _ipv4),
    ("phone", _PHONE, _phone),
]


def redact_pii(text: str, kinds: tuple[str, ...] | None = None) -> tuple[str, Counter[str]]:
    """`text` with each PII item replaced by its placeholder, and how many of each kind were found.

    All patterns run over the original text; a span taken by an earlier kind is not looked at again. An
    IBAN- or card-shaped number takes its span even when its checksum fails, so that it is left alone
    whole rather than half-read as a phone number."""
    taken: list[tuple[int, int, str | None]] = []  # (start, end, kind to redact or None to leave)

    def free(start: int, end: int) -> bool:
        return all(end <= other_start or start >= other_end for other_start, other_end, _ in taken)

    for kind, pattern, valid in CHECKS:
        if (kinds is not None and kind not in kinds) or not GATES[kind].search(text):
            continue
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            if valid(match.group()):
                taken.append((match.start(), match.end(), kind))
            elif kind in ("iban", "card"):
                taken.append((match.start(), match.end(), None))
    counts: Counter[str] = Counter()
    pieces, position = [], 0
    for start, end, kind in sorted(taken):
        if kind is None:
            continue
        pieces += [text[position:start], PLACEHOLDERS[kind]]
        counts[kind] += 1
        position = end
    pieces.append(text[position:])
    return "".join(pieces), counts
