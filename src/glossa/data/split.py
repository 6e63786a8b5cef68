"""Validation set and test set (§12): a stable train/validation/test split by document hash.

Each document goes to a split by where the hash of its normalised text falls in [0, 1): below `train` →
train, below `train + validation` → validation, else test. The hash depends only on the text, so the same
document lands in the same split in every run, whatever the order or the other documents; and duplicates
that slipped through deduplication land together, so none leaks from train into test. With n documents each
split's share is a binomial draw around its fraction (standard deviation sqrt(f(1-f)/n)).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from glossa.errors import GlossaError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.98
    validation: float = 0.01
    test: float = 0.01
    salt: str = "glossa-split-v1"

    def __post_init__(self) -> None:
        fractions = (self.train, self.validation, self.test)
        if any(fraction < 0 for fraction in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
            raise GlossaError(
                f"split fractions must be non-negative and sum to 1, not {self.train}, {self.validation}, "
                f"{self.test}"
            )


def split_of(text: str, config: SplitConfig) -> str:
    """'train', 'validation' or 'test' for this document, from its hash alone."""
    normalised = " ".join(text.split()).casefold()
    digest = hashlib.blake2b(
        normalised.encode("utf-8"), digest_size=8, key=config.salt.encode()[:64]
    ).digest()
    position = int.from_bytes(digest, "little") / 2**64
    if position < config.train:
        return "train"
    if position < config.train + config.validation:
        return "validation"
    return "test"
