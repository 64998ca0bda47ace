"""Small statistics and formatting helpers: medians, percentiles, spreads."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def spread(values: Sequence[float], digits: int = 1) -> str:
    """``min–max`` of the repetitions, so a reader can see how noisy a median is."""
    if not values:
        return "—"
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"×{value:.2f}"


def settle() -> None:
    """Collect before a timed section so one repetition doesn't pay for the last one's garbage."""
    gc.collect()


class Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
