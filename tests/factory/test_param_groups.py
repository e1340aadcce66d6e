"""``Optimizer.param_groups``: parameters chosen by structured name get their own learning-rate
multiplier, weight decay and hyperparameters, checked in the APPLIED update.

Gradients are set exactly (the loss is sum(p * G) for random G), parameters are float64 and the
rates powers of two, so every reference below is a float64 formula (SGD, Momentum, decay, clipping),
``torch.optim.RAdam`` with per-group rates, or the same optimizer built separately per group.
"""
import math
from pathlib import Path

import numpy as np
import paddle
import pytest
import yaml

from configs import TINY_RUN, write_config
from paddle_optim.cli import main
from paddle_optim.factory import build_optimizer, validate_optimizer_section
from paddle_optim.factory.param_groups import GROUP_ARGUMENTS, USER_GROUP_KEYS
from paddle_optim.factory.section import GROUP_FIELDS
from paddle_optim.optimizers import Lookahead, RAdam, Ranger

ROOT = Path(__file__).resolve().parents[2]
LR = 0.125
#: 0.* (first Linear) x 0.5, 4.* (last Linear) x 4; 2.* (the middle one) is the default group.
GROUPS = [{"params": "0.*", "lr_mult": 0.5}, {"params": ["4.weight", "4.bias"], "lr_mult": 4.0}]
MULT = {"0": 0.5, "2": 1.0, "4": 4.0}


@pytest.fixture
def float64():
    paddle.set_default_dtype("float64")
    yield
    paddle.set_default_dtype("float32")


def make_model(seed=3):
    paddle.seed(seed)
    return paddle.nn.Sequential(paddle.nn.Linear(4, 6), paddle.nn.Tanh(), paddle.nn.Linear(6, 5), paddle.nn.Tanh(),
                                paddle.nn.Linear(5, 3))


def section(name, **keys):
    resolved, errors = validate_optimizer_section(dict(name=name, learning_rate=LR, **keys), "Optimizer")
    assert not errors, errors
    return resolved


def set_grads(model, step, scale=1.0):
    """Gradient of every parameter := a fixed random G (the loss sum(p * G)); returns {name: G}."""
    rng = np.random.default_rng(100 + step)
    grads = {n: scale * rng.standard_normal(p.shape) for n, p in model.named_parameters()}
    sum((p * paddle.to_tensor(grads[n])).sum() for n, p in model.named_parameters()).backward()
    return grads


def weights(model):
    return {n: p.numpy().copy() for n, p in model.named_parameters()}


def mult(name):
    return MULT[name.split(".")[0]]


# ------------------------------------------------------------- learning-rate multipliers, applied

@pytest.mark.parametrize("name,momentum", [("SGD", None), ("Momentum", 0.875)])  # exact in float32 (a kernel attribute)
def test_two_lr_multipliers_scale_the_applied_sgd_and_momentum_update(float64, name, momentum):
    model = make_model()
    keys = {"momentum": momentum} if momentum else {}
    opt = build_optimizer(section(name, param_groups=GROUPS, **keys), model, LR)
    theta, velocity = weights(model), {n: 0.0 for n, _ in model.named_parameters()}
    for step in range(4):
        grads = set_grads(model, step)
        opt.step()
        opt.clear_grad()
        for n, p in model.named_parameters():
            velocity[n] = (momentum or 0.0) * velocity[n] + grads[n]  # Paddle's Momentum: v = mu v + g
            theta[n] = theta[n] - LR * mult(n) * velocity[n]
            np.testing.assert_allclose(p.numpy(), theta[n], rtol=1e-13, atol=1e-15, err_msg=f"{name} {n} step {step}")


def test_two_lr_multipliers_in_radam_match_torch_radam_with_per_group_rates(float64):
    torch = pytest.importorskip("torch")
    model = make_model()
    opt = build_optimizer(section("RAdam", param_groups=GROUPS), model, LR)
    named = list(model.named_parameters())
    tparams = {n: torch.tensor(p.numpy(), dtype=torch.float64, requires_grad=True) for n, p in named}
    topt = torch.optim.RAdam([{"params": [tparams[n] for n, _ in named if n.startswith(prefix)],
                               "lr": LR * MULT[prefix]} for prefix in MULT])
    for step in range(10):  # the rectified update starts at step 6
        grads = set_grads(model, step)
        opt.step()
        opt.clear_grad()
        for n, t in tparams.items():
            t.grad = torch.tensor(grads[n])
        topt.step()
        for n, p in named:
            np.testing.assert_allclose(p.numpy(), tparams[n].detach().numpy(), rtol=1e-10, atol=1e-14)


def per_group(model, build):
    """One optimizer per group's layer of ``model``: ``build(layer, mult)``."""
    return [build(model[i], m) for i, m in ((0, 0.5), (2, 1.0), (4, 4.0))]


def run_together(steps, models, optimizers, schedules=()):
    """The same gradients into every model, then a step of every optimizer and schedule."""
    for step in range(steps):
        for model in models:
            set_grads(model, step)
        for o in optimizers:
            o.step()
            o.clear_grad()
        for s in schedules:
            s.step()


def assert_same_weights(a, b):
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-15, err_msg=n)


OPTIMIZERS = [
    ("SGD", {}), ("Momentum", {"momentum": 0.9}), ("Adam", {}), ("AdamW", {}), ("Lamb", {}), ("RAdam", {}),
    ("Ranger", {}),  # 10 steps: one Lookahead synchronisation at k = 6
    ("Lookahead", {"k": 3, "inner": {"name": "Momentum", "momentum": 0.9}}),
]


@pytest.mark.parametrize("name,keys", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_grouped_optimizer_equals_one_optimizer_per_group_at_the_scaled_rate(float64, name, keys):
    grouped, separate = make_model(), make_model()
    opt = build_optimizer(section(name, param_groups=GROUPS, **keys), grouped, LR)
    opts = per_group(separate, lambda layer, m: build_optimizer(section(name, **keys), layer, LR * m))
    start = weights(grouped)
    run_together(10, (grouped, separate), [opt] + opts)
    assert all(not np.array_equal(p.numpy(), start[n]) for n, p in grouped.named_parameters())
    assert_same_weights(grouped, separate)


# ------------------------------------------------------------- schedules and warmup

def _warmup_cosine(peak):
    cosine = paddle.optimizer.lr.CosineAnnealingDecay(peak, T_max=8)
    return paddle.optimizer.lr.LinearWarmup(cosine, warmup_steps=3, start_lr=peak / 8, end_lr=peak)


def test_a_warmup_cosine_schedule_scales_every_group_by_its_multiplier(float64):
    model = make_model()
    schedule = _warmup_cosine(LR)
    opt = build_optimizer(section("SGD", param_groups=GROUPS), model, schedule)
    rates = []
    for step in range(8):
        before, grads, lr = weights(model), set_grads(model, step), schedule()
        opt.step()
        opt.clear_grad()
        schedule.step()
        rates.append(lr)
        for n, p in model.named_parameters():  # the global rate is a float32 tensor: rtol 1e-6
            np.testing.assert_allclose(before[n] - p.numpy(), lr * mult(n) * grads[n], rtol=1e-6, atol=1e-12)
    assert rates[0] == LR / 8 and len(set(rates)) == len(rates)  # warmup, then decay: every step different


@pytest.mark.parametrize("name", ["AdamW", "RAdam", "Ranger"])
def test_schedules_drive_grouped_adaptive_optimizers_like_separate_scaled_schedules(float64, name):
    grouped, separate = make_model(), make_model()
    schedule = _warmup_cosine(LR)
    opt = build_optimizer(section(name, param_groups=GROUPS), grouped, schedule)
    schedules = {m: _warmup_cosine(LR * m) for m in MULT.values()}
    opts = per_group(separate, lambda layer, m: build_optimizer(section(name), layer, schedules[m]))
    run_together(8, (grouped, separate), [opt] + opts, [schedule, *schedules.values()])
    assert_same_weights(grouped, separate)


# ------------------------------------------------------------- weight decay per group, with the split

DECAY_GROUPS = [{"params": "0.*", "lr_mult": 0.5, "weight_decay": 0.5},       # its bias: 1-D, no decay
                {"params": "2.bias", "weight_decay": 0.25, "exclude_1d_from_decay": False},  # decayed bias
                {"params": "4.*", "lr_mult": 4.0, "weight_decay": 0.0}]
#: The decay each parameter gets: after one step from a zero gradient theta * (1 - LR * mult * decay).
DECAY_FACTOR = {"0.weight": 0.5, "0.bias": 0.0, "2.weight": 0.125, "2.bias": 0.25, "4.weight": 0.0, "4.bias": 0.0}


def _one_step_from_zero_gradients(name, global_decay, keys=()):
    model = make_model()
    opt = build_optimizer(section(name, weight_decay=global_decay, param_groups=DECAY_GROUPS, **dict(keys)), model, LR)
    before = weights(model)
    set_grads(model, 0, scale=0.0)
    opt.step()
    return before, weights(model)


@pytest.mark.parametrize("global_decay", [0.125, 0.0])  # 0: only the groups' own decay
@pytest.mark.parametrize("name,keys", [("SGD", {}), ("Momentum", {"momentum": 0.9}), ("AdamW", {}), ("RAdam", {}),
                                       ("RAdam", {"decoupled_weight_decay": True}), ("Ranger", {"use_gc": False})],
                         ids=["SGD", "Momentum", "AdamW", "RAdam-L2", "RAdam-decoupled", "Ranger"])
def test_each_group_decays_its_decayed_members_by_its_own_weight_decay(float64, name, keys, global_decay):
    """Coupled (g + wd theta) and decoupled (theta - lr wd theta) decay give the same first step from a
    zero gradient (RAdam's first steps are momentum SGD on the bias-corrected moment, = g)."""
    before, after = _one_step_from_zero_gradients(name, global_decay, keys)
    for n in before:
        decay = global_decay if n == "2.weight" else DECAY_FACTOR[n]  # 2.weight: the default group
        np.testing.assert_allclose(after[n], before[n] * (1 - LR * mult(n) * decay), rtol=1e-12, atol=0, err_msg=n)


def test_lamb_decays_exactly_the_members_each_group_decays(float64):
    """From a zero gradient Lamb's update is its decay term wd theta times the trust ratio
    ||theta|| / ||wd theta||: theta * (1 - lr mult) for a decayed member whatever wd, none otherwise."""
    before, after = _one_step_from_zero_gradients("Lamb", 0.125)
    for n in before:
        np.testing.assert_allclose(after[n], before[n] * (1 - LR * mult(n) * (DECAY_FACTOR[n] > 0)), rtol=1e-12,
                                   err_msg=n)


# ------------------------------------------------------------- one global-norm clip over all groups

@pytest.mark.parametrize("name", ["SGD", "Momentum"])
def test_global_norm_clip_is_one_clip_over_every_group(float64, name):
    model = make_model()
    before = weights(model)
    grads = set_grads(model, 0)
    norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
    clip_norm = norm / 8  # well below the norm of every pair of groups too
    opt = build_optimizer(section(name, param_groups=GROUPS, grad_clip={"name": "ClipGradByGlobalNorm",
                                                                       "clip_norm": clip_norm}), model, LR)
    opt.step()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(before[n] - p.numpy(), LR * mult(n) * grads[n] * clip_norm / norm,
                                   rtol=1e-12, atol=1e-15, err_msg=n)


# ------------------------------------------------------------- per-group hyperparameters

HYPER_VALUES = {"momentum": 0.5, "beta1": 0.5, "beta2": 0.9, "epsilon": 0.5, "rho": 0.5}
NATIVE = {cls: name for name, cls in [("Momentum", paddle.optimizer.Momentum), ("Adam", paddle.optimizer.Adam),
                                      ("AdamW", paddle.optimizer.AdamW), ("Adamax", paddle.optimizer.Adamax),
                                      ("RMSProp", paddle.optimizer.RMSProp), ("Adagrad", paddle.optimizer.Adagrad),
                                      ("Adadelta", paddle.optimizer.Adadelta), ("RAdam", RAdam), ("Ranger", Ranger)]}
HYPER_CASES = [(NATIVE[cls], key) for cls, keys in GROUP_ARGUMENTS.items() if cls is not Lookahead for key in keys]


def test_every_optimizer_with_group_hyperparameters_is_checked():
    assert set(NATIVE) == set(GROUP_ARGUMENTS) - {Lookahead} and len(HYPER_CASES) >= 15
    assert tuple(GROUP_FIELDS) == USER_GROUP_KEYS


@pytest.mark.parametrize("name,key", HYPER_CASES + [("Lookahead", "momentum")], ids=lambda v: str(v))
def test_a_group_hyperparameter_is_honoured_for_that_group_only(float64, name, key):
    keys = {"inner": {"name": "Momentum"}} if name == "Lookahead" else {}
    grouped, separate, plain = make_model(), make_model(), make_model()
    groups = [dict(GROUPS[0], **{key: HYPER_VALUES[key]}), GROUPS[1]]
    opt = build_optimizer(section(name, param_groups=groups, **keys), grouped, LR)
    own = dict(keys, inner=dict(keys["inner"], **{key: HYPER_VALUES[key]})) if keys else dict(keys, **{key: HYPER_VALUES[key]})
    opts = per_group(separate, lambda layer, m: build_optimizer(section(name, **(own if m == 0.5 else keys)), layer, LR * m))
    reference = build_optimizer(section(name, param_groups=GROUPS, **keys), plain, LR)  # without the key
    run_together(8, (grouped, separate, plain), [opt, reference] + opts)
    assert_same_weights(grouped, separate)
    for (n, p), (_, r) in zip(grouped.named_parameters(), plain.named_parameters()):
        assert np.array_equal(p.numpy(), r.numpy()) == (not n.startswith("0.")), n  # only group 0 changes


# ------------------------------------------------------------- membership

def test_frozen_parameters_are_skipped_and_a_fully_frozen_group_is_left_out():
    model = make_model()
    model[0].weight.stop_gradient = True
    groups = [{"params": "0.weight", "lr_mult": 2.0}, {"params": "0.*", "lr_mult": 0.5}]
    opt = build_optimizer(section("Momentum", param_groups=groups), model, LR)
    members = [[p.name for p in g["params"]] for g in opt._param_groups]
    assert members == [[model[0].bias.name], [p.name for n, p in model.named_parameters() if n[0] in "24"]]
    assert opt._param_groups[0]["learning_rate"] == 0.5


def test_first_matching_group_wins():
    model = make_model()
    groups = [{"params": "*.bias", "lr_mult": 2.0}, {"params": "0.*", "lr_mult": 0.5}]
    opt = build_optimizer(section("SGD", param_groups=groups), model, LR)
    rates = {p.name: g.get("learning_rate", 1.0) for g in opt._param_groups for p in g["params"]}
    assert [rates[p.name] for p in model.parameters()] == [0.5, 2.0, 1.0, 2.0, 1.0, 2.0]


# ------------------------------------------------------------- through the CLI: resume, bad input, check

GROUPED_RUN = {
    "Global": {"epochs": 2},
    "Optimizer": {"name": "Ranger", "learning_rate": 0.01, "weight_decay": 0.01,
                  "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 1.0},
                  "param_groups": [{"params": "net.1.*", "lr_mult": 0.5, "beta1": 0.9},
                                   {"params": ["net.3.weight"], "lr_mult": 4.0, "weight_decay": 0.0}]},
    "LRScheduler": {"name": "CosineAnnealingDecay", "warmup": {"epochs": 1, "start_lr": 0.001}},
    "Checkpoint": {"save_interval": 1, "keep_last": 0},
}


def test_a_grouped_run_resumes_bit_identically(tmp_path):
    """8 steps per epoch: the resume point (step 8) is not a multiple of Ranger's k = 6."""
    cfg, full = write_config(tmp_path, "full", TINY_RUN, GROUPED_RUN)
    assert main(["check", "-c", cfg]) == 0
    assert main(["train", "-c", cfg]) == 0
    resumed_cfg, resumed = write_config(tmp_path, "resumed", TINY_RUN, GROUPED_RUN)
    assert main(["train", "-c", resumed_cfg, "--resume", str(full / "checkpoints" / "epoch_1")]) == 0
    a, b = paddle.load(str(full / "checkpoints" / "latest.pdparams")), paddle.load(str(resumed / "checkpoints" / "latest.pdparams"))
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)


def _groups(*entries):
    return {"Optimizer": {"name": "Momentum", "learning_rate": 0.1, "param_groups": list(entries)}}


BAD_INPUT = [
    (_groups({"params": "net.1.*", "lr": 0.5}), "Optimizer.param_groups[0].lr: unknown key"),
    (_groups({"params": "net.1.*", "lr_mult": 0}), "Optimizer.param_groups[0].lr_mult: 0.0 is out of range; allowed: > 0"),
    (_groups({"params": "net.1.*", "lr_mult": float("nan")}), "Optimizer.param_groups[0].lr_mult: nan is out of range"),
    (_groups({"params": "net.1.*", "lr_mult": float("inf")}), "Optimizer.param_groups[0].lr_mult: inf is out of range"),
    (_groups({"params": "net.1.*", "momentum": 1.5}), "Optimizer.param_groups[0].momentum: 1.5 is out of range"),
    (_groups({"params": "net.1.*", "beta1": 0.5}), "Optimizer.param_groups[0].beta1: unknown key"),
    (_groups({"params": "net.1.*", "weight_decay": -1}), "Optimizer.param_groups[0].weight_decay: -1.0 is out of range"),
    (_groups({"lr_mult": 2.0}), "Optimizer.param_groups[0].params: is required"),
    (_groups({"params": []}), "Optimizer.param_groups[0].params: expected a name pattern or a non-empty list"),
    (_groups({"params": ["net.1.*", 3]}), "Optimizer.param_groups[0].params[1]: expected a name pattern string"),
    (_groups("net.1.*"), "Optimizer.param_groups[0]: expected a mapping"),
    (_groups({"params": "net.1.*"}, {"params": "backbone.*"}),
     "Optimizer.param_groups[1].params: 'backbone.*' matches no parameter; allowed: fnmatch patterns of the model's "
     "parameter names (4 parameters), e.g. net.1.weight, net.1.bias, net.3.weight, net.3.bias"),
    (_groups({"params": ["net.1.weight", "net.2.*"]}), "Optimizer.param_groups[0].params: 'net.2.*' matches no parameter"),
    (_groups({"params": "net.*"}, {"params": "net.3.*"}),
     "Optimizer.param_groups[1].params: 'net.3.*' only matches parameters that Optimizer.param_groups[0] already takes"),
    (dict(_groups({"params": "net.1.*", "momentum": 0.8}), MomentumScheduler={"name": "Linear", "start": 0.8,
                                                                              "end": 0.95, "length": 4}),
     "Optimizer.param_groups[0].momentum: MomentumScheduler sets every group's momentum on every step"),
    ({"Optimizer": {"name": "Lookahead", "learning_rate": 0.1, "inner": {"name": "SGD", "param_groups": []}}},
     "Optimizer.inner.param_groups: set it once on the outer Optimizer.param_groups"),
]


@pytest.mark.parametrize("changes,message", BAD_INPUT, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD_INPUT)])
def test_bad_param_groups_are_one_error_line_exit_2_and_no_output_dir(tmp_path, capsys, changes, message):
    cfg, out = write_config(tmp_path, "bad", TINY_RUN, changes)
    capsys.readouterr()
    code = main(["train", "-c", cfg])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: " + message), (code, err)
    assert not out.exists()


def test_check_reports_the_groups_and_rejects_a_pattern_that_matches_nothing(tmp_path, capsys):
    cfg, out = write_config(tmp_path, "checked", TINY_RUN, _groups({"params": "net.1.*", "lr_mult": 0.5}))
    capsys.readouterr()
    assert main(["check", "-c", cfg]) == 0
    assert "Optimizer.param_groups: [0] lr_mult 0.5: net.1.weight, net.1.bias; default group: net.3.weight, " \
           "net.3.bias" in capsys.readouterr().out
    cfg, out = write_config(tmp_path, "typo", TINY_RUN, _groups({"params": "net.1*"}, {"params": "net.3.wieght"}))
    assert main(["check", "-c", cfg]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: Optimizer.param_groups[1].params: 'net.3.wieght' matches no parameter; allowed: fnmatch patterns of "
        "the model's parameter names (4 parameters), e.g. net.3.weight, net.1.weight, net.3.bias, net.1.bias")
    assert not out.exists()


def test_the_shipped_config_trains_with_its_groups(tmp_path, capsys):
    with open(ROOT / "configs" / "digits_param_groups.yaml") as fh:
        config = yaml.safe_load(fh)
    cfg, out = write_config(tmp_path, "shipped", config, {"Global": {"epochs": 1}, "LRScheduler": {"warmup": None}})
    assert main(["check", "-c", cfg]) == 0
    assert main(["train", "-c", cfg]) == 0
    assert ("Optimizer.param_groups: [0] lr_mult 0.1: net.1.weight, net.1.bias; [1] lr_mult 2.0, weight_decay 0.0, "
            "momentum 0.8: net.5.weight, net.5.bias; default group: net.3.weight, net.3.bias") in (out / "train.log").read_text()
    state = paddle.load(str(out / "checkpoints" / "latest.pdopt"))
    assert state["group_sizes"] == [1, 1, 2, 1, 1]  # net.1 decayed/not, net.5 (no decay), net.3 decayed/not
