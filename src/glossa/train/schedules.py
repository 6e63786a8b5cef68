"""Learning-rate schedules as data (seed §12 Learning Rate Schedule, §13 Warmup; modded-nanogpt style):
a `Schedule` is a few numbers, and `schedule(step)` is the multiplier of the base learning rate at that step.

    warmup      linear from 1/warmup to 1 over the first `warmup` steps (small steps while Adam's moment
                estimates are still noise)
    constant    1 after warmup
    cosine      from 1 down to min_ratio along half a cosine, ending at `total`
    linear      from 1 down to min_ratio in a straight line
    wsd         warmup-stable-decay: 1 until the last `decay_fraction` of the run, then linear to min_ratio
                (a run can be extended from any stable-phase checkpoint)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from glossa.errors import GlossaError

KINDS = ("constant", "cosine", "linear", "wsd")


@dataclass(frozen=True)
class Schedule:
    kind: str
    total: int
    warmup: int = 0
    min_ratio: float = 0.1
    decay_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GlossaError(f"unknown schedule {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.total < 1 or self.warmup < 0:
            raise GlossaError(f"a schedule needs total ≥ 1 and warmup ≥ 0, not {self.total}, {self.warmup}")

    def __call__(self, step: int) -> float:
        """Multiplier at `step` (0-based: the step about to be taken)."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        if self.kind == "wsd":
            decay_start = self.total - int(self.decay_fraction * self.total)
            if step < decay_start:
                return 1.0
            progress = (step - decay_start) / max(1, self.total - decay_start)
            return 1.0 - (1.0 - self.min_ratio) * min(1.0, progress)
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        if self.kind == "linear":
            return 1.0 - (1.0 - self.min_ratio) * progress
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    @classmethod
    def from_config(cls, config, total: int) -> Schedule:
        return cls(config.kind, total, config.warmup_steps, config.min_lr_ratio, config.decay_fraction)


def set_lr(optimizer, multiplier: float) -> float:
    """Scale every group's initial learning rate; return the first group's new rate (for the log)."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = group["initial_lr"] * multiplier
    return optimizer.param_groups[0]["lr"]
