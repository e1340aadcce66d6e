"""The pure curve analysis of lr-find on synthetic curves with known answers."""
import numpy as np
import pytest

from paddle_optim.lr_find.curve import (analyse, default_window, diverged_at, learning_rates, smooth,
                                        steepest_index, sync_ripple, valley_index)


def range_test_curve(lrs, centre=-2.0, width=0.4, depth=1.5, rise_at=None, base=2.3):
    """A range-test shape in log10(lr): plateau at ``base``, a tanh descent of ``depth`` centred (steepest)
    at ``centre``, and, from ``rise_at``, a steep rise (divergence)."""
    x = np.log10(lrs)
    loss = base - depth / 2 * (1 + np.tanh((x - centre) / width))
    if rise_at is not None:
        loss = loss + np.where(x > rise_at, 20.0 * (x - rise_at) ** 2, 0.0)
    return loss


def test_learning_rates_hit_both_ends_with_the_chosen_spacing():
    exp = learning_rates(1e-6, 1.0, 61, "exp")
    assert exp[0] == pytest.approx(1e-6) and exp[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(np.log10(exp)), 0.1)
    lin = learning_rates(0.1, 1.0, 10, "linear")
    np.testing.assert_allclose(np.diff(lin), 0.1)


def test_smoothing_is_centred_so_a_straight_line_has_no_lag():
    line = np.arange(50, dtype=float)
    np.testing.assert_allclose(smooth(line, 7)[3:-3], line[3:-3])


def test_steepest_uses_the_real_spacing_of_a_non_uniform_sweep():
    # Dense points below 1e-2, sparse ones above: a gradient over the index instead of log(lr)
    # inflates the slope where the points are sparse.
    lrs = np.concatenate([np.geomspace(1e-5, 1e-2, 90, endpoint=False), np.geomspace(1e-2, 1.0, 12)])
    loss = range_test_curve(lrs, centre=-2.5, width=0.5, depth=1.0)
    loss[-1] += 5.0  # a minimum inside the range
    idx = steepest_index(loss, lrs)
    assert np.log10(lrs[idx]) == pytest.approx(-2.5, abs=0.06)
    # The same search without the spacing lands in the sparse part, half a decade too high or more.
    naive = int(np.argmin(np.gradient(loss[: int(np.argmin(loss)) + 1])))
    assert np.log10(lrs[naive]) > -2.2


def test_valley_lies_partway_down_the_descent_not_on_a_noisy_plateau():
    lrs = learning_rates(1e-7, 10, 120)
    rng = np.random.default_rng(0)
    loss = range_test_curve(lrs, centre=-2.0, width=0.3, rise_at=-0.5) + rng.normal(0, 0.02, len(lrs))
    smoothed = smooth(loss, 5)
    valley = np.log10(lrs[valley_index(smoothed, float(smoothed[:3].max()))])
    minimum = np.log10(lrs[int(np.argmin(smoothed))])
    assert -3.0 < valley < minimum  # below the minimum, past the start of the descent
    assert valley == pytest.approx(-2.0, abs=0.5)


def test_analyse_suggests_all_three_on_a_clean_curve():
    lrs = learning_rates(1e-6, 10, 100)
    loss = range_test_curve(lrs, centre=-2.0, width=0.3, rise_at=-0.7)
    result = analyse(lrs, loss, 5, diverged=True)
    assert result.warnings == []
    steepest, valley, tenth = (result.suggestion(m) for m in ("steepest", "valley", "min/10"))
    assert np.log10(steepest.lr) == pytest.approx(-2.0, abs=0.1)
    # The valley: the middle, in log(lr), of the descent from the plateau's end (10% down) to the minimum.
    plateau_end = np.log10(lrs[np.nonzero(result.smoothed[: result.minimum] >= 2.3 - 0.15)[0][-1]])
    middle = (plateau_end + np.log10(lrs[result.minimum])) / 2
    assert np.log10(valley.lr) == pytest.approx(middle, abs=0.1)
    assert tenth.lr == pytest.approx(lrs[result.minimum] / 10)


@pytest.mark.parametrize("case, loss, expected", [
    ("flat", lambda lrs, rng: 2.3 + rng.normal(0, 0.01, len(lrs)), "flat"),
    ("too short", lambda lrs, rng: 2.3 + 30 * np.maximum(np.log10(lrs) + 5.7, 0) ** 2, "point(s) before the loss"),
    ("noisy", lambda lrs, rng: range_test_curve(lrs, depth=0.3, rise_at=-0.5) + rng.normal(0, 0.6, len(lrs)),
     "noise"),
])
def test_a_curve_that_cannot_support_a_suggestion_gives_a_warning_and_no_number(case, loss, expected):
    lrs = learning_rates(1e-6, 10, 100)
    result = analyse(lrs, loss(lrs, np.random.default_rng(1)), 5, diverged=case == "too short")
    assert [s.lr for s in result.suggestions] == [None, None, None], case
    assert len(result.warnings) == 1 and expected in result.warnings[0], result.warnings


def test_a_curve_still_falling_at_the_end_has_no_min_over_ten():
    lrs = learning_rates(1e-6, 1e-2, 60)
    result = analyse(lrs, range_test_curve(lrs, centre=-2.5, width=0.5), 5, diverged=False)
    assert result.suggestion("min/10").lr is None
    assert result.suggestion("steepest").lr is not None
    assert any("still falling" in w for w in result.warnings)


def test_the_stop_fires_once_the_smoothed_loss_exceeds_the_factor_and_never_moves_afterwards():
    loss = [2.0] * 30 + [1.0] * 10 + [1.0 + 2 * i for i in range(1, 15)]
    found = [diverged_at(loss[:n], 5, 4.0) for n in range(1, len(loss) + 1)]
    first = next(i for i, f in enumerate(found) if f is not None)
    assert all(f == found[first] for f in found[first:])  # decided once, from full windows only
    at = found[first]
    assert np.mean(loss[at - 2: at + 3]) > 4.0 and np.mean(loss[at - 3: at + 2]) <= 4.0
    assert diverged_at([2.0] * 50, 5, 4.0) is None


def test_the_lookahead_window_spans_a_synchronisation_cycle():
    assert default_window(100) == 5 and default_window(400) == 21
    assert default_window(100, lookahead_k=6) == 7 and default_window(100, lookahead_k=5) == 5


def test_sync_ripple_measures_a_k_periodic_saw_tooth_and_what_noise_alone_gives():
    k = 6
    steps = np.arange(120)
    trend = 2.0 - 0.005 * steps
    noise = np.random.default_rng(3).normal(0, 0.05, len(steps))
    for amplitude, periodic in ((0.1, True), (0.0, False)):
        loss = trend + noise + amplitude * (steps % k) / (k - 1)
        ripple, by_chance = sync_ripple(loss, smooth(loss, 7), k, len(loss))
        if periodic:
            assert ripple == pytest.approx(0.1, rel=0.4) and ripple > 2 * by_chance
        else:
            assert ripple < 2 * by_chance
