"""Property: any value at any key of the trainer's sections either resolves (and then the run builds:
data, model, schedule, optimizer) or is a UserError naming the section; never a traceback."""
import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddle_optim.sections import resolve_config
from paddle_optim.errors import UserError
from paddle_optim.training.distributed import World
from paddle_optim.training.loop import Run

VALID = {
    "Global": {"epochs": 2, "seed": 1, "device": "cpu", "log_interval": 2, "eval_interval": 1,
               "accumulate_steps": 1, "max_nonfinite_steps": 3, "output_dir": "out"},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 64, "num_val": 16, "num_features": 4, "num_classes": 3},
             "batch_size": 8, "eval_batch_size": 8, "drop_last": False, "shuffle": True, "num_workers": 0},
    "Model": {"name": "mlp", "hidden_sizes": [8], "dropout": 0.0},
    "Loss": {"name": "CrossEntropyLoss", "label_smoothing": 0.0},
    "Optimizer": {"name": "Lookahead", "learning_rate": 0.1, "k": 3, "alpha": 0.5, "weight_decay": 0.0,
                  "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 1.0},
                  "inner": {"name": "Momentum", "momentum": 0.9}},
    "AMP": {"enable": False, "level": "O1", "dtype": "float16", "init_loss_scaling": 1024.0,
            "use_dynamic_loss_scaling": True},
    "EMA": {"enable": False, "decay": 0.99, "warmup": True},
    "Checkpoint": {"save_interval": 1, "keep_last": 1, "save_best": True, "interval_steps": 0},
}
PATHS = [(s, k) for s, keys in VALID.items() for k in keys] + \
        [("Data", "dataset", k) for k in VALID["Data"]["dataset"]] + \
        [("Optimizer", "inner", k) for k in VALID["Optimizer"]["inner"]] + \
        [("Optimizer", "grad_clip", k) for k in VALID["Optimizer"]["grad_clip"]]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(["", "x", "digits", "resnet18", "Momentum", "pkg.mod:Thing", "O2", "1e-3"]),
                   st.lists(st.integers(-2, 64), max_size=3), st.dictionaries(st.sampled_from(["name", "zz"]),
                                                                                st.integers(0, 2), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_any_value_anywhere_resolves_or_is_a_user_error(changes):
    config = copy.deepcopy(VALID)
    for path, value in changes:
        node = config
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                break
            node = node[part]
        else:
            node[path[-1]] = value
    try:
        Run(resolve_config(config), World(0, 1, "cpu"))
    except UserError as err:
        assert all(line.split(".")[0].split(":")[0].split("[")[0] in VALID for line in err.problems), err.problems
