"""A/B routing: an alias splits traffic between model versions by weight, sticky per user.

With a `user` (OpenAI's field for an end-user id) the choice is a stable hash: sha256(alias, user) read as a
number u in [0, 1), then the target whose cumulative weight interval holds u. The same user always lands on
the same version (a stable experience, clean experiment groups), and over many users each version gets its
share of the weight. Without a user each request draws u at random. Changing the weights moves only the
users whose u falls in the part of the interval that changed hands.

    >>> choose([("chat@v1", 0.9), ("chat@v2", 0.1)], alias="chat", user="alice")
    'chat@v1'
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from glossa.errors import GlossaError


def stable_unit(alias: str, user: str) -> float:
    """A number in [0, 1) that depends only on (alias, user)."""
    data = f"{alias}\0{user}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") / 2**64


def choose(
    targets: Sequence[tuple[str, float]],
    *,
    alias: str,
    user: str | None = None,
    rng: random.Random | None = None,
) -> str:
    """The target key a request goes to (see the module docstring)."""
    total = sum(weight for _, weight in targets)
    if not targets or not total > 0:
        raise GlossaError(f"alias {alias!r} has no target with a positive weight")
    u = stable_unit(alias, user) if user else (rng or random).random()
    point, running = u * total, 0.0
    for key, weight in targets:
        running += weight
        if point < running:
            return key
    return targets[-1][0]
