"""The PaddleClas and PaddleOCR adapters, called exactly as those suites call an ``Optimizer`` factory
(their training code is not on PyPI, so this runs without them, under every Paddle line):

    PaddleClas: Factory(learning_rate=lr, grad_clip=clip, **cfg)(model_list=[...])  regularizer -> object
    PaddleOCR:  Factory(learning_rate=lr, weight_decay=reg, grad_clip=clip, **cfg)(model)   L2 -> float

with the suites' schedules (an LRScheduler stepped by the caller), their checkpoint round trip
(``paddle.save(opt.state_dict())`` / ``set_state_dict(paddle.load(...))`` into a rebuilt model and
optimizer) and, for PaddleOCR, a fine-tuning run that loads the pretrained weights AFTER building
the optimizer, as ``tools/train.py`` does.
"""
import numpy as np
import paddle
import pytest

from paddle_optim.errors import ConfigError
from paddle_optim.suites.factory import CLAS, OCR, adapter

NAMES = ("RAdam", "Ranger", "Lookahead")
OWN = {"RAdam": {"beta1": 0.9}, "Ranger": {"k": 3}, "Lookahead": {"k": 3, "inner": {"name": "Momentum", "momentum": 0.9}}}


def _model(seed=0):
    paddle.seed(seed)
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4), paddle.nn.Flatten(),
                                paddle.nn.Linear(4 * 6 * 6, 2))


def _batch(i):
    rng = np.random.default_rng(i)
    return paddle.to_tensor(rng.standard_normal((4, 3, 8, 8)).astype("float32"))


def _step(model, opt, i):
    loss = model(_batch(i)).square().mean()
    loss.backward()
    opt.step()
    opt.clear_grad()
    return float(loss)


def _weights(model, trainable_only=False):
    # BatchNorm's running statistics are (non-trainable) parameters too; forward passes move them.
    return [p.numpy().copy() for p in model.parameters() if p.trainable or not trainable_only]


def _clas(name, model, lr, **extra):
    cfg = dict(OWN[name], no_weight_decay_name="1 bias", one_dim_param_no_weight_decay=True, **extra)
    return adapter(name, CLAS)(learning_rate=lr, grad_clip=paddle.nn.ClipGradByNorm(1.0),
                               weight_decay=extra.pop("weight_decay", paddle.regularizer.L2Decay(1e-4)),
                               **{k: v for k, v in cfg.items() if k != "weight_decay"})(model_list=[model])


def _ocr(name, model, lr, weight_decay=3e-5, **extra):
    return adapter(name, OCR)(learning_rate=lr, weight_decay=weight_decay,
                              grad_clip=paddle.nn.ClipGradByGlobalNorm(10.0), **dict(OWN[name], **extra))(model)


def _schedule():
    # PaddleClas/PaddleOCR build warmup + cosine as these Paddle classes, stepped once per iteration.
    return paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.CosineAnnealingDecay(0.01, T_max=8), 2, 0.001, 0.01)


@pytest.mark.parametrize("build", [_clas, _ocr], ids=["paddleclas", "paddleocr"])
@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip_continues_exactly(name, build, tmp_path):
    model, lr = _model(), _schedule()
    opt = build(name, model, lr)
    for i in range(4):
        _step(model, opt, i)
        lr.step()
    paddle.save(model.state_dict(), str(tmp_path / "m.pdparams"))
    paddle.save(opt.state_dict(), str(tmp_path / "m.pdopt"))
    reference = [(_step(model, opt, i), lr.step())[0] for i in range(4, 8)]

    model2, lr2 = _model(seed=1), _schedule()  # rebuilt from other random weights, as a new process would
    opt2 = build(name, model2, lr2)
    model2.set_state_dict(paddle.load(str(tmp_path / "m.pdparams")))
    opt2.set_state_dict(paddle.load(str(tmp_path / "m.pdopt")))
    assert lr2.last_epoch == 4  # the suite's scheduler comes back with the optimizer state
    resumed = [(_step(model2, opt2, i), lr2.step())[0] for i in range(4, 8)]
    assert resumed == reference
    for a, b in zip(_weights(model), _weights(model2)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["RAdam", "Ranger"])
def test_the_suite_schedule_is_the_step_size(name):
    """RAdam's first steps (rho_t <= 5) are momentum SGD on the bias-corrected mean: with a constant
    gradient g every step moves a parameter by exactly -lr_t * g, lr_t the suite scheduler's value."""
    layer = paddle.nn.Linear(3, 1, bias_attr=False)
    layer.weight.set_value(np.zeros((3, 1), "float32"))
    lr = _schedule()
    opt = adapter(name, OCR)(learning_rate=lr, **({"k": 10, "use_gc": False} if name == "Ranger" else {}))(layer)
    x = paddle.ones([1, 3])
    before, applied, expected = layer.weight.numpy().copy(), [], []
    for _ in range(5):
        expected.append(lr())
        layer(x).sum().backward()  # d/dw = 1 for every weight
        opt.step()
        opt.clear_grad()
        lr.step()
        after = layer.weight.numpy().copy()
        applied.append(float((before - after).mean()))
        before = after
    np.testing.assert_allclose(applied, expected, rtol=1e-5)


def _fine_tune_distance(name, slow_weights_before_loading):
    pretrained = _model(seed=7)
    model = _model(seed=0)
    opt = _ocr(name, model, 1e-4, alpha=0.5, k=2)
    if slow_weights_before_loading:
        opt.reset_slow_weights()  # what taking them at construction did: the random initialisation
    model.set_state_dict(pretrained.state_dict())  # load_pretrained_params after build_optimizer
    for i in range(2):  # k = 2: the second step synchronises
        _step(model, opt, i)
    reference = _weights(pretrained, trainable_only=True)
    distance = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(_weights(model, trainable_only=True), reference)))
    return distance / np.sqrt(sum((b ** 2).sum() for b in reference))


@pytest.mark.parametrize("name", ["Ranger", "Lookahead"])
def test_ocr_fine_tuning_keeps_the_pretrained_weights_as_slow_weights(name):
    """PaddleOCR builds the optimizer, THEN loads Global.pretrained_model. The first synchronisation
    must pull towards the pretrained weights, not towards the random initialisation (the control:
    slow weights taken before the load land half-way back to it)."""
    assert _fine_tune_distance(name, slow_weights_before_loading=False) < 0.01
    assert _fine_tune_distance(name, slow_weights_before_loading=True) > 0.3


def test_decay_spellings():
    model = _model()
    # PaddleClas: a float weight_decay means decoupled decay in its AdamW configs, L2 in Momentum's.
    with pytest.raises(ConfigError, match=r"Optimizer.weight_decay: 0.05 is ambiguous for Ranger.*decoupled_decay: 0.05"):
        adapter("Ranger", CLAS)(learning_rate=0.1, weight_decay=0.05)
    with pytest.raises(ConfigError, match="Optimizer.regularizer: give either"):
        adapter("Ranger", CLAS)(learning_rate=0.1, weight_decay=paddle.regularizer.L2Decay(1e-4), decoupled_decay=0.05)
    # Lookahead takes the AMP configs' multi_precision and hands it to its inner optimizer.
    opt = adapter("Lookahead", CLAS)(learning_rate=0.1, multi_precision=True, inner={"name": "Momentum"})(model_list=[model])
    assert opt.inner_optimizer._multi_precision
    # L1 (regularizer: {name: L1}) reaches the optimizer as paddle.regularizer.L1Decay.
    opt = adapter("Ranger", OCR)(learning_rate=0.1, weight_decay=paddle.regularizer.L1Decay(1e-4))(model)
    assert isinstance(opt.inner_optimizer.regularization, paddle.regularizer.L1Decay)
    # decoupled: our classes' AdamW-style mode, none on the excluded names.
    opt = adapter("RAdam", CLAS)(learning_rate=0.1, decoupled_decay=0.05, no_weight_decay_name="1")(model_list=[model])
    assert opt._decoupled
    assert [g["weight_decay"] for g in opt._param_groups] == [0.05, 0.0]
    assert [p.name for p in opt._param_groups[1]["params"]] == [p.name for p in model[1].parameters() if p.trainable]


def test_a_global_norm_clip_spans_the_decay_groups():
    """Paddle clips each parameter group on its own; with the no-decay split a global norm must
    still be one norm over every parameter (else each group is clipped to clip_norm separately)."""
    from paddle_optim.factory.clipping import ClipGradByGlobalNormAcrossGroups

    model = _model()
    opt = adapter("RAdam", OCR)(learning_rate=0.1, weight_decay=1e-4, grad_clip=paddle.nn.ClipGradByGlobalNorm(0.5),
                                one_dim_param_no_weight_decay=True)(model)
    assert len(opt._param_groups) == 2 and isinstance(opt._grad_clip, ClipGradByGlobalNormAcrossGroups)
    params = [p for p in model.parameters() if p.trainable]
    before = [p.numpy().copy() for p in params]
    model(_batch(0)).square().mean().backward()
    assert np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in params)) > 1.0  # the clip has work to do
    opt.step()
    # RAdam's first step is lr * (clipped gradient + coupled L2 on the decay group, added after the clip).
    decayed = {p.name for p in opt._param_groups[0]["params"]}
    update = [(b - p.numpy()) / 0.1 - (1e-4 * b if p.name in decayed else 0) for p, b in zip(params, before)]
    np.testing.assert_allclose(np.sqrt(sum((u ** 2).sum() for u in update)), 0.5, rtol=1e-3)


def _models(convention):
    return {"model_list": [_model()]} if convention is CLAS else {"model": _model()}


@pytest.mark.parametrize("convention", [CLAS, OCR], ids=["paddleclas", "paddleocr"])
def test_unknown_keys_are_refused_with_the_allowed_ones(convention):
    with pytest.raises(ConfigError, match=r"Optimizer.betas: unknown key for Ranger.*allowed: alpha, beta1, beta2, "
                                          r"decoupled_decay, epsilon"):
        adapter("Ranger", convention)(learning_rate=0.1, betas=[0.9, 0.99])
    with pytest.raises(ConfigError, match=r"Optimizer.decoupled_weight_decay: unknown key for RAdam \(write decoupled_decay"):
        adapter("RAdam", convention)(learning_rate=0.1, decoupled_weight_decay=True)
    with pytest.raises(ConfigError, match=r"Optimizer.inner.name: Ranger already contains Lookahead"):
        adapter("Lookahead", convention)(learning_rate=0.1, inner={"name": "Ranger"})(**_models(convention))
    with pytest.raises(ConfigError, match=r"Optimizer.inner.decoupled_decay: set it on the outer optimizer"):
        adapter("Lookahead", convention)(learning_rate=0.1, inner={"name": "RAdam", "decoupled_decay": 0.1})(**_models(convention))
    with pytest.raises(ConfigError, match=r"Optimizer.inner.name: unknown optimizer 'Momentun' \(did you mean 'Momentum'\?\)"):
        adapter("Lookahead", convention)(learning_rate=0.1, inner={"name": "Momentun"})(**_models(convention))



@pytest.mark.parametrize("convention", [CLAS, OCR])
def test_the_suites_model_gives_ranger_its_layers_centring_axes(convention):
    # An Embedding: its layer rule (not centred) differs from the rank rule of a bare parameter.
    from layouts import embedding_after_training

    from paddle_optim import Ranger, gc_axes

    def suite(net):
        factory = adapter("Ranger", convention)
        if convention is CLAS:
            return factory(learning_rate=0.1, grad_clip=None, weight_decay=None)(model_list=[net])
        return factory(learning_rate=0.1, weight_decay=None, grad_clip=None)(net)

    by_layers = embedding_after_training(
        lambda net: Ranger(learning_rate=0.1, parameters=net.parameters(), gc_axes=gc_axes(net)))
    np.testing.assert_array_equal(embedding_after_training(suite), by_layers)
    assert not np.array_equal(
        embedding_after_training(lambda net: Ranger(learning_rate=0.1, parameters=net.parameters())), by_layers)
