"""The deploy gate: did training lower the held-out loss by more than noise? Stdlib only.

Each held-out example's mean loss per assistant token is measured before and after training; the gate passes
when the one-sided 95% upper bound of the mean paired change (after - before, Student's t) is below zero. With
few examples that bound is wide, so a fall that one or two examples could produce by chance does not pass; with
fewer than MIN_GATE_EXAMPLES there is no interval to speak of, and the gate fails saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

#: Below this many held-out examples the gate refuses to call a change an improvement.
MIN_GATE_EXAMPLES = 3
#: One-sided 95% critical values of Student's t by degrees of freedom (1..30); the normal's 1.645 beyond.
_T95 = (
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
    1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
    1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
)  # fmt: skip


@dataclass(frozen=True)
class Gate:
    passed: bool
    examples: int
    mean_change: float
    """Mean of (after - before) per held-out example; negative is better."""
    upper_bound: float
    """One-sided 95% upper bound of mean_change (inf when there are too few examples)."""
    reason: str

    def as_json(self) -> dict:
        return {
            "passed": self.passed,
            "examples": self.examples,
            "mean_change": round(self.mean_change, 6),
            "upper_bound_95": round(self.upper_bound, 6) if math.isfinite(self.upper_bound) else None,
            "reason": self.reason,
        }


def t95(degrees_of_freedom: int) -> float:
    if degrees_of_freedom < 1:
        raise ValueError("at least one degree of freedom is needed")
    return _T95[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T95) else 1.645


def deploy_gate(before: Sequence[float], after: Sequence[float]) -> Gate:
    """The gate for paired per-example held-out losses."""
    if len(before) != len(after):
        raise ValueError(f"{len(before)} losses before but {len(after)} after")
    n = len(before)
    changes = [a - b for b, a in zip(before, after)]
    mean = sum(changes) / n if n else 0.0
    if n < MIN_GATE_EXAMPLES:
        return Gate(
            False, n, mean, math.inf,
            f"only {n} held-out example{'s' if n != 1 else ''}: at least {MIN_GATE_EXAMPLES} are needed to tell an "
            "improvement from noise; record more runs, or raise --eval-fraction",
        )  # fmt: skip
    sd = math.sqrt(sum((c - mean) ** 2 for c in changes) / (n - 1))
    upper = mean + t95(n - 1) * sd / math.sqrt(n)
    if upper < 0:
        reason = (
            f"the held-out loss fell by {-mean:.4f} per example on average over {n} examples, and by at least "
            f"{-upper:.4f} with 95% confidence"
        )
        return Gate(True, n, mean, upper, reason)
    if mean < 0:
        reason = (
            f"the held-out loss fell by {-mean:.4f} per example on average over {n} examples, but by less than its "
            f"noise (the 95% bound of the change is {upper:+.4f}); more held-out examples or more training may show it"
        )
    else:
        reason = f"the held-out loss did not fall: it changed by {mean:+.4f} per example over {n} examples"
    return Gate(False, n, mean, upper, reason)
