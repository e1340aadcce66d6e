"""Broken schedule sections never crash: they build, or fail with ConfigError lines (exit 2 in the CLI)."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddle_optim.errors import UserError
from paddle_optim.schedulers import build_schedule
from paddle_optim.schedulers.catalog import SCHEDULERS
from paddle_optim.schedulers.section import MOMENTUM_SHAPES

GARBAGE = st.sampled_from([None, -1, 0, 0.5, 3, 1e9, True, "x", "1e-3", [], [3, 1], [1, 2], {}, {"steps": 2},
                           {"epochs": -1}, {"fraction": 0.5}, {"fraction": 0.99}, "epoch", "step", "min", "cos"])
KEYS = sorted({k for spec in SCHEDULERS.values() for k in spec.fields} |
              {"unit", "warmup", "hold", "metric", "learning_rate", "T_mx"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SCHEDULERS) + [None, "Nope", 3, ["x"]]),
       section=st.dictionaries(st.sampled_from(KEYS), GARBAGE, max_size=4),
       momentum=st.one_of(st.none(), st.fixed_dictionaries(
           {"name": st.sampled_from(list(MOMENTUM_SHAPES) + ["Nope", 1])},
           optional={k: GARBAGE for k in ("start", "end", "length", "at", "unit", "max_momentum", "phase_pct")})))
def test_any_section_builds_or_raises_user_errors(name, section, momentum):
    config = {"Global": {"epochs": 3}, "Optimizer": {"learning_rate": 0.1},
              "LRScheduler": dict(section, name=name), "MomentumScheduler": momentum}
    try:
        schedule = build_schedule(config, 4)
    except UserError as err:
        assert err.problems and all(isinstance(line, str) and line for line in err.problems)
        return
    for _ in range(12):
        assert schedule.current_lr() >= 0
        schedule.step()
