"""PII redaction finds planted items of each kind and leaves checksum-invalid numbers alone."""

import pytest

from glossa.data.pii import iban_valid, luhn_valid, redact_pii

PLANTED = {
    "email": ["juliet.capulet@verona.example.org", "r+tag@mail.co.uk"],
    "phone": ["+44 20 7946 0958", "(415) 555-0132", "+1-202-555-0173"],
    "ipv4": ["192.168.1.20", "8.8.4.4"],
    "ipv6": ["2001:db8::ff00:42:8329", "fe80::1"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "iban": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR14 2004 1010 0505 0001 3M02 606"],
}
LEFT_ALONE = [
    "4111 1111 1111 1112",  # Luhn-invalid card
    "5500-0000-0000-0005",
    "GB82 WEST 1234 5698 7654 33",  # mod-97-invalid IBAN
    "DE89370400440532013001",
    "999.1.1.1",
    "in 1599, act 3.2, scene 12",
]


@pytest.mark.parametrize("kind", PLANTED)
def test_each_planted_item_is_redacted_and_counted(kind):
    items = PLANTED[kind]
    text = "Intro line. " + " and then ".join(f"see {item} here" for item in items) + ". The end."
    redacted, counts = redact_pii(text)
    for item in items:
        assert item not in redacted
    assert counts[kind if kind != "ipv6" else "ipv6"] == len(items), (counts, redacted)
    assert sum(counts.values()) == len(items)
    assert redacted.startswith("Intro line. see <") and redacted.endswith(" here. The end.")


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_checksum_invalid_numbers_and_ordinary_numbers_are_left_alone(text):
    sentence = f"The number {text} is not personal."
    assert redact_pii(sentence) == (sentence, {})


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")


def test_kinds_can_be_chosen():
    text = "mail a@b.org from 10.0.0.1"
    assert redact_pii(text, ("email",))[0] == "mail <EMAIL> from 10.0.0.1"
