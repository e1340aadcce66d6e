"""The optimizer registry: every registered optimizer builds from YAML and trains; names, aliases,
errors with choices; one base learning rate; decay groups; gradient clipping."""
import numpy as np
import paddle
import pytest

from paddle_optim import build_optimizer
from paddle_optim.factory.param_groups import split_decay
from paddle_optim.factory import (ALIASES, get_spec, list_optimizers, optimizer_names, registry,
                                  validate_optimizer_section)

# Extra arguments some optimizers need to make progress on the toy problem in a few steps.
LEARNING_RATES = {"Adadelta": 1.0, "Adagrad": 0.1, "Rprop": 0.01, "SGD": 0.1, "Momentum": 0.1, "ASGD": 0.1}


def toy_model():
    paddle.seed(0)
    return paddle.nn.Sequential(paddle.nn.Linear(4, 8), paddle.nn.ReLU(), paddle.nn.Linear(8, 1))


def toy_loss(model):
    paddle.seed(1)
    x = paddle.randn([32, 4])
    y = x.sum(axis=1, keepdim=True)
    return paddle.nn.functional.mse_loss(model(x), y)


def section(name, **extra):
    raw = {"name": name, "learning_rate": LEARNING_RATES.get(name, 0.01), **extra}
    if name == "Lookahead":
        raw["inner"] = {"name": "Adam"}
    resolved, errors = validate_optimizer_section(raw, "Optimizer")
    assert errors == [], errors
    return resolved


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_registered_optimizer_builds_from_yaml_and_reduces_the_loss(name):
    model = toy_model()
    opt = build_optimizer(section(name), model, section(name)["learning_rate"])
    assert isinstance(opt, paddle.optimizer.Optimizer)
    first = float(toy_loss(model))
    for _ in range(20):
        loss = toy_loss(model)
        loss.backward()
        opt.step()
        opt.clear_grad()
    assert float(toy_loss(model)) < first


def test_listing_specs_and_aliases():
    names = [n for n, _ in list_optimizers()]
    for expected in ("SGD", "Momentum", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSProp", "Lamb",
                     "RAdam", "Lookahead", "Ranger"):
        assert expected in names
    spec, preset = get_spec("Nesterov")
    assert spec.name == "Momentum" and preset == {"use_nesterov": True}
    assert get_spec("adamw")[0].name == "AdamW"
    assert "momentum" in get_spec("Momentum")[0].arguments and "beta1" in get_spec("Ranger")[0].arguments
    assert set(ALIASES) <= set(optimizer_names())


@pytest.mark.parametrize("raw, key, fragment", [
    ({"name": "Adamw2", "learning_rate": 0.1}, "Optimizer.name", "did you mean 'Adam'?); allowed: "),
    ({"name": "Adam", "learning_rate": 0.1, "beta_1": 0.9}, "Optimizer.beta_1", "did you mean 'beta1'"),
    ({"name": "Adam", "learning_rate": 0.1, "beta1": 1.5}, "Optimizer.beta1", "allowed: [0, 1)"),
    ({"name": "Momentum", "learning_rate": 0.1, "momentum": 2}, "Optimizer.momentum", "allowed: [0, 1)"),
    ({"name": "RAdam", "learning_rate": 0.1, "epsilon": 0.0}, "Optimizer.epsilon", "allowed: > 0"),
    ({"name": "AdamW", "learning_rate": 0.1, "lr_ratio": 2}, "Optimizer.lr_ratio", "unknown key"),
    ({"name": "SGD", "learning_rate": 0.1, "grad_clip": {"name": "ClipGradByValue", "max": -1.0}},
     "Optimizer.grad_clip.min", "must be below max"),
    ({"name": "Lookahead", "learning_rate": 0.1, "inner": {"name": "SGD", "learning_rate": 0.5}},
     "Optimizer.inner.learning_rate", "set it once on the outer Optimizer.learning_rate"),
    ({"name": "Lookahead", "learning_rate": 0.1, "inner": {"name": "Ranger"}}, "Optimizer.inner.name",
     "already contains Lookahead"),
    ({"name": "Lookahead", "learning_rate": 0.1, "k": 0, "inner": {"name": "SGD"}}, "Optimizer.k", "allowed: >= 1"),
    ({"name": "SGD", "learning_rate": 0.1, "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": -1}},
     "Optimizer.grad_clip.clip_norm", "allowed: > 0"),
    ({"name": "SGD", "learning_rate": 0.1, "no_weight_decay": [3]}, "Optimizer.no_weight_decay[0]", "pattern"),
    ({"name": "SGD"}, "Optimizer.learning_rate", "is required"),
])
def test_bad_optimizer_sections_name_the_key(raw, key, fragment):
    _, errors = validate_optimizer_section(raw, "Optimizer")
    assert errors and errors[0].key == key and fragment in str(errors[0]), errors


def test_lookahead_base_learning_rate_lives_in_one_place():
    model = toy_model()
    resolved = section("Lookahead", alpha=0.5, k=5)
    scheduler = paddle.optimizer.lr.StepDecay(0.3, step_size=1, gamma=0.5)
    opt = build_optimizer(resolved, model, scheduler)
    assert opt.inner_optimizer.get_lr() == pytest.approx(0.3)
    scheduler.step()
    assert opt.inner_optimizer.get_lr() == pytest.approx(0.15)


def test_one_dimensional_and_pattern_parameters_get_no_decay():
    model = toy_model()
    decay, no_decay = split_decay(model.named_parameters(), ["2.*"])
    assert [p.name for p in decay] == [model[0].weight.name]
    assert {p.name for p in no_decay} == {model[0].bias.name, model[2].weight.name, model[2].bias.name}


@pytest.mark.parametrize("name", ["SGD", "AdamW", "Lamb", "Momentum", "RAdam"])
def test_weight_decay_shrinks_weights_but_never_biases(name):
    """With zero gradients only the decay moves parameters: weights shrink, biases stay."""
    model = toy_model()
    opt = build_optimizer(section(name, weight_decay=0.1), model, 0.1)
    w0, b0 = model[0].weight.numpy().copy(), model[0].bias.numpy().copy()
    (model(paddle.zeros([1, 4])).sum() * 0.0).backward()
    opt.step()
    assert np.abs(model[0].weight.numpy()).sum() < np.abs(w0).sum()
    np.testing.assert_array_equal(model[0].bias.numpy(), b0)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "RAdam", "AdamW"])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-12])
def test_grad_clip_by_global_norm_stays_global_across_decay_groups(name, weight_decay):
    """Paddle clips per parameter group; with the decay / no-decay groups the norm must still be global."""
    model = toy_model()
    clip = {"name": "ClipGradByGlobalNorm", "clip_norm": 1e-3}
    extra = {"momentum": 0.0} if name == "Momentum" else {}
    opt = build_optimizer(section(name, grad_clip=clip, weight_decay=weight_decay, **extra), model, 1.0)
    if name in ("RAdam", "AdamW"):  # adaptive steps do not move by the gradient's norm; compare to SGD
        return _compare_adaptive_with_and_without_groups(name, clip)
    before = [p.numpy().copy() for p in model.parameters()]
    toy_loss(model).backward()
    opt.step()
    moved = np.sqrt(sum(((p.numpy() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert moved == pytest.approx(1e-3, rel=1e-3)


def _compare_adaptive_with_and_without_groups(name, clip):
    moves = []
    for weight_decay in (0.0, 1e-12):
        model = toy_model()
        opt = build_optimizer(section(name, grad_clip=clip, weight_decay=weight_decay), model, 1.0)
        before = [p.numpy().copy() for p in model.parameters()]
        for _ in range(6):  # past RAdam's un-rectified first steps
            toy_loss(model).backward()
            opt.step()
            opt.clear_grad()
        moves.append(np.concatenate([(p.numpy() - b).ravel() for p, b in zip(model.parameters(), before)]))
    np.testing.assert_allclose(moves[1], moves[0], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("name", ["AdamW", "Lamb", "Momentum", "Ranger"])
def test_zero_weight_decay_means_none_even_where_paddle_defaults_to_0_01(name):
    model = toy_model()
    opt = build_optimizer(section(name), model, 0.1)
    before = [p.numpy().copy() for p in model.parameters()]
    (model(paddle.zeros([1, 4])).sum() * 0.0).backward()
    opt.step()
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)



@pytest.mark.parametrize("name, inner", [("Ranger", None), ("Lookahead", {"name": "RAdam", "use_gc": True})])
def test_a_model_gives_radam_and_ranger_the_centring_axes_of_its_layers(name, inner):
    from layouts import embedding_after_training

    from paddle_optim import gc_axes
    from paddle_optim.optimizers import Lookahead, RAdam, Ranger

    raw = {"name": name, "learning_rate": 0.1, **({} if inner is None else {"inner": inner})}
    resolved, errors = validate_optimizer_section(raw, "Optimizer")
    assert errors == []
    from_yaml = embedding_after_training(lambda net: build_optimizer(resolved, net, 0.1))

    def by_hand(net, axes):
        if inner is None:
            return Ranger(learning_rate=0.1, parameters=net.parameters(), **axes)
        return Lookahead(RAdam(learning_rate=0.1, parameters=net.parameters(), use_gc=True, **axes))

    by_layers = embedding_after_training(lambda net: by_hand(net, {"gc_axes": gc_axes(net)}))
    np.testing.assert_array_equal(from_yaml, by_layers)
    assert not np.array_equal(from_yaml, embedding_after_training(lambda net: by_hand(net, {})))
