"""The pure part of ``lr-find``: the learning rates of a sweep, the smoothed curve, the stop rule and
the suggestions, all over plain arrays (no Paddle), so each can be tested on synthetic curves.

Smoothing is a centred moving mean over ``window`` points (shrinking at the ends). Centred, not the
exponential average fastai and torch-lr-finder use: an EMA lags the raw loss by about
``beta / (1 - beta)`` points (49 at their 0.98), and on a sweep that multiplies the learning rate by
``(end/start) ** (1/steps)`` per point that lag moves every feature of the curve, its minimum and its
steepest point, to a larger learning rate. The centred mean has no lag; the price is that the stop
rule sees point ``i`` only ``window // 2`` steps later.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

MODES = ("exp", "linear")
METHODS = ("steepest", "valley", "min/10")
MIN_STEPS = 10
#: A suggestion needs this many points from the start to the minimum of the smoothed loss.
MIN_POINTS_BEFORE_MINIMUM = 8
#: The smoothed loss must fall by at least this fraction of its starting value.
MIN_RELATIVE_DESCENT = 0.05


def learning_rates(start: float, end: float, steps: int, mode: str = "exp") -> np.ndarray:
    """``steps`` learning rates from ``start`` to ``end`` (both included): geometric (``exp``, equal
    steps in log(lr)) or arithmetic (``linear``)."""
    if mode == "exp":
        return np.geomspace(start, end, steps)
    return np.linspace(start, end, steps)


def default_window(steps: int, lookahead_k: Optional[int] = None) -> int:
    """Odd smoothing window: about 1/20 of the sweep (at least 5 points) and, for Lookahead, at least
    one synchronisation cycle of ``k`` steps, so every window averages the same mix of the cycle."""
    window = max(5, steps // 20, lookahead_k or 0)
    return window if window % 2 else window + 1


def smooth(losses: Sequence[float], window: int) -> np.ndarray:
    """Centred moving mean; point ``i`` averages ``losses[i - h : i + h + 1]`` (``h = window // 2``),
    fewer at the ends."""
    values = np.asarray(losses, dtype=np.float64)
    h = window // 2
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.maximum(np.arange(len(values)) - h, 0)
    hi = np.minimum(np.arange(len(values)) + h + 1, len(values))
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)


def diverged_at(losses: Sequence[float], window: int, factor: float) -> Optional[int]:
    """The index of the first point whose smoothed loss exceeds ``factor`` x the minimum of the
    smoothed loss before it, once the points that smoothed value needs exist; ``None`` if none does.

    Called after every step with the losses so far: only points with a full window to their right
    (``i + window // 2 < len(losses)``) are judged, so the answer never changes as the sweep goes on.
    """
    h = window // 2
    values = np.asarray(losses, dtype=np.float64)
    judged = len(values) - h
    if judged < 2:
        return None
    smoothed = smooth(values, window)[:judged]
    running_min = np.minimum.accumulate(smoothed)
    above = np.nonzero(smoothed[1:] > factor * running_min[:-1])[0]
    return int(above[0]) + 1 if len(above) else None


@dataclass(frozen=True)
class Suggestion:
    method: str                    # one of METHODS
    lr: Optional[float]            # None when the curve cannot support it (see ``reason``)
    index: Optional[int] = None    # the point of the curve it comes from
    reason: str = ""               # why there is no number


@dataclass(frozen=True)
class Analysis:
    smoothed: np.ndarray
    suggestions: List[Suggestion]
    warnings: List[str]
    minimum: int          # index of the smoothed minimum
    descent: float        # smoothed loss at the start minus at the minimum
    noise: float          # per-step noise of the loss up to the minimum (:func:`noise_std`)

    def suggestion(self, method: str) -> Suggestion:
        return next(s for s in self.suggestions if s.method == method)


def steepest_index(smoothed: np.ndarray, lrs: np.ndarray) -> int:
    """Index of the steepest descent, d(smoothed loss) / d(log lr) taken with the real spacing of
    ``lrs`` (second-order differences, ``np.gradient``), over the points up to the minimum."""
    stop = int(np.argmin(smoothed)) + 1
    if stop < 3:
        return 0
    slope = np.gradient(smoothed[:stop], np.log(lrs[:stop]))
    return int(np.argmin(slope))


#: The plateau ends at the last point still within this fraction of the descent from the start level.
PLATEAU_BAND = 0.1


def descent_stretch(smoothed: np.ndarray, start_level: float) -> Tuple[int, int]:
    """``(first, last)``: the descending stretch of the curve, from the end of the starting plateau
    (the last point before the minimum still within ``PLATEAU_BAND`` of the descent from
    ``start_level``) to the minimum. A longest-decreasing-subsequence over the raw points (fastai's
    valley) lets a noisy plateau extend the stretch to the left; a band of the descent does not."""
    last = int(np.argmin(smoothed))
    level = start_level - PLATEAU_BAND * (start_level - smoothed[last])
    on_plateau = np.nonzero(smoothed[: last + 1] >= level)[0]
    return (int(on_plateau[-1]) if len(on_plateau) else 0), last


def valley_index(smoothed: np.ndarray, start_level: float) -> int:
    """The middle (in steps, so in log(lr) for an ``exp`` sweep) of the descending stretch: past the
    plateau, short of the minimum where the loss is about to turn up (the idea of fastai's valley)."""
    first, last = descent_stretch(smoothed, start_level)
    return first + (last - first) // 2


def noise_std(losses: np.ndarray, smoothed: np.ndarray, window: int) -> float:
    """The per-step noise of the loss: the std of ``loss - smoothed``, corrected for the point's own share
    of its window (a centred mean of ``w`` points leaves ``(1 - 1/w)`` of the variance)."""
    if len(losses) < 2:
        return 0.0
    w = min(window, len(losses))
    return float(np.std(losses - smoothed)) * (math.sqrt(w / (w - 1)) if w > 1 else 1.0)


def chance_descent(noise: float, window: int, points: int) -> float:
    """How far the minimum of a FLAT curve with this noise falls below its start by chance: the smoothed
    values have std ``noise / sqrt(window)``, the lowest of ``points`` of them lies about
    ``sqrt(2 ln points)`` of those below the level; 2 more for margin. A descent no larger than this
    cannot place a minimum or a steepest point."""
    return noise / math.sqrt(window) * (math.sqrt(2 * math.log(max(points, 2))) + 2.0)


def analyse(lrs: Sequence[float], losses: Sequence[float], window: int, diverged: bool) -> Analysis:
    """Suggestions and warnings for a finished sweep: ``losses[i]`` measured at ``lrs[i]``, finite
    (the caller cuts the curve at the first non-finite loss); ``diverged``: the sweep stopped early."""
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    smoothed = smooth(losses, window) if len(losses) else losses
    if len(losses) < 3:
        reason = f"only {len(losses)} finite point(s)"
        return Analysis(smoothed, [Suggestion(m, None, reason=reason) for m in METHODS],
                        [f"the curve has {reason}: lower --start"], 0, 0.0, 0.0)
    minimum = int(np.argmin(smoothed))
    start_level = float(smoothed[: max(1, window // 2 + 1)].max())
    descent = start_level - float(smoothed[minimum])
    noise = noise_std(losses[: minimum + 1], smoothed[: minimum + 1], window)
    floor = chance_descent(noise, window, len(losses))
    warnings: List[str] = []
    no_number = None
    if minimum + 1 < MIN_POINTS_BEFORE_MINIMUM:
        no_number = f"only {minimum + 1} point(s) before the loss stopped falling"
        warnings.append(f"{no_number} (lr {lrs[minimum]:.3g}): the sweep starts too high, lower --start")
    elif descent < MIN_RELATIVE_DESCENT * abs(start_level):
        no_number = f"the curve is flat (the smoothed loss fell by {descent:.3g}, " \
                    f"{100 * descent / abs(start_level):.1f}% of its start)"
        warnings.append(f"{no_number}: " + (
            "it diverged before it learnt; a model that needs many steps to get going (deep, unnormalised) "
            "gets too few at each learning rate: narrow the range and raise --steps (e.g. 50 per decade)"
            if diverged else "raise --end, or the model does not learn at these learning rates"))
    elif descent <= floor:
        no_number = (f"the noise (std {noise:.3g} per step) is larger than the descent: a flat curve this noisy "
                     f"falls by {floor:.3g} by chance, this one fell by {descent:.3g}")
        warnings.append(f"{no_number}: use more --steps, a larger Data.batch_size, or a wider range")
    if no_number is not None:
        return Analysis(smoothed, [Suggestion(m, None, reason=no_number) for m in METHODS], warnings,
                        minimum, descent, noise)
    still_falling = not diverged and minimum >= len(losses) - 1 - window // 2
    if still_falling:
        warnings.append(f"the loss was still falling at the end of the range (lr {lrs[-1]:.3g}): the minimum "
                        "and min/10 are only bounds; raise --end to see where it turns")
    steepest = steepest_index(smoothed, lrs)
    valley = valley_index(smoothed, start_level)
    suggestions = [Suggestion("steepest", float(lrs[steepest]), steepest),
                   Suggestion("valley", float(lrs[valley]), valley)]
    if still_falling:
        suggestions.append(Suggestion("min/10", None, minimum, reason="no minimum inside the range"))
    else:
        suggestions.append(Suggestion("min/10", float(lrs[minimum]) / 10.0, minimum))
    return Analysis(smoothed, suggestions, warnings, minimum, descent, noise)


def sync_ripple(losses: Sequence[float], smoothed: Sequence[float], k: int, upto: int,
                shuffles: int = 200) -> Tuple[float, float]:
    """``(ripple, by_chance)``: the amplitude of the k-periodic part of ``loss - smoothed`` over the first
    ``upto`` points (the spread of the mean residual at each position of Lookahead's cycle), and the
    median of the same statistic over ``shuffles`` random orders of those residuals (seeded), i.e.
    what noise alone gives. A ripple near ``by_chance`` is not there. NaN when there are < 2k points."""
    residual = np.asarray(losses[:upto], dtype=np.float64) - np.asarray(smoothed[:upto], dtype=np.float64)
    if k < 2 or len(residual) < 2 * k:
        return math.nan, math.nan

    def spread(values):
        phases = [values[p::k].mean() for p in range(k)]
        return float(max(phases) - min(phases))

    rng = np.random.default_rng(0)
    return spread(residual), float(np.median([spread(rng.permutation(residual)) for _ in range(shuffles)]))
