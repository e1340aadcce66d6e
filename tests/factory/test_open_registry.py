"""The open registry: a user's optimizer, by import path or by ``register(spec)``, gets the same
validation, decay groups and clipping as a native one; validation itself builds nothing."""
import textwrap

import paddle
import pytest

from paddle_optim.errors import ConfigError
from paddle_optim.factory import OptimizerSpec, build_optimizer, get_spec, register, registry, trial_build
from paddle_optim.factory.clipping import ClipGradByGlobalNormAcrossGroups
from paddle_optim.factory.section import validate_optimizer_section

USER_OPTIMIZER = '''
import paddle


class SignSGD(paddle.optimizer.SGD):
    """SGD on the sign of the gradient (Bernstein et al. 2018)."""

    def __init__(self, learning_rate=0.001, parameters=None, weight_decay=None, grad_clip=None, scale=1.0):
        if scale <= 0:
            raise ValueError(f"scale={scale} must be > 0")
        super().__init__(learning_rate=learning_rate, parameters=parameters, weight_decay=weight_decay,
                         grad_clip=grad_clip)
        self.scale = scale
        BUILT.append(self)


BUILT = []


class NotAnOptimizer:
    pass
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_optim.py").write_text(textwrap.dedent(USER_OPTIMIZER))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_optim"


def _model():
    paddle.seed(0)
    return paddle.nn.Sequential(paddle.nn.Linear(4, 8), paddle.nn.Linear(8, 1))


def test_an_import_path_optimizer_is_validated_decayed_and_clipped_like_a_native_one(user_module):
    name = f"{user_module}:SignSGD"
    raw = {"name": name, "learning_rate": 0.1, "weight_decay": 1e-4, "scale": 2.0,
           "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 1.0}}
    resolved, errors = validate_optimizer_section(raw, "Optimizer")
    assert errors == [] and resolved["name"] == name and resolved["scale"] == 2.0
    opt = build_optimizer(resolved, _model(), 0.1)
    assert type(opt).__name__ == "SignSGD" and opt.scale == 2.0
    groups = opt._param_groups
    assert [g["weight_decay"] for g in groups] == [1e-4, 0.0]  # 1-D biases without decay
    assert isinstance(opt._grad_clip, ClipGradByGlobalNormAcrossGroups)
    # A misspelled argument of the user's class is reported at its key, like a native one's.
    _, errors = validate_optimizer_section(dict(raw, scael=2.0), "Optimizer")
    assert errors[0].key == "Optimizer.scael" and "did you mean 'scale'" in str(errors[0])


def test_an_import_path_that_is_not_an_optimizer_is_a_config_error(user_module):
    _, errors = validate_optimizer_section({"name": f"{user_module}:NotAnOptimizer", "learning_rate": 0.1},
                                           "Optimizer")
    assert errors[0].key == "Optimizer.name" and "not a paddle.optimizer.Optimizer subclass" in str(errors[0])
    _, errors = validate_optimizer_section({"name": f"{user_module}:Nope", "learning_rate": 0.1}, "Optimizer")
    assert errors[0].key == "Optimizer.name" and "has no 'Nope'" in str(errors[0])


def test_register_adds_a_spec_and_refuses_a_taken_name(user_module):
    import user_optim

    spec = OptimizerSpec.from_class("SignSGD", user_optim.SignSGD, "SGD on the sign of the gradient", "groups")
    try:
        assert register(spec) is spec
        assert get_spec("signsgd")[0] is spec
        resolved, errors = validate_optimizer_section({"name": "SignSGD", "learning_rate": 0.1}, "Optimizer")
        assert errors == [] and isinstance(build_optimizer(resolved, _model(), 0.1), user_optim.SignSGD)
        with pytest.raises(ValueError, match="already registered"):
            register(OptimizerSpec.from_class("momentum", user_optim.SignSGD, "", "groups"))
    finally:
        registry().pop("SignSGD", None)


def test_validation_builds_nothing_and_a_setting_only_the_class_rejects_fails_at_build(user_module):
    import user_optim

    user_optim.BUILT.clear()
    resolved, errors = validate_optimizer_section({"name": f"{user_module}:SignSGD", "learning_rate": 0.1,
                                                   "scale": -1.0}, "Optimizer")
    assert errors == [] and user_optim.BUILT == []
    # The class's own check: a ConfigError naming the section when it is built (train), and in
    # `check`'s trial build, which builds once on a dummy parameter.
    with pytest.raises(ConfigError, match="^Optimizer: .*SignSGD rejects these settings: scale=-1.0 must be > 0"):
        build_optimizer(resolved, _model(), 0.1)
    problems = trial_build(resolved, "Optimizer")
    assert [p.key for p in problems] == ["Optimizer"] and "scale=-1.0 must be > 0" in problems[0].message
    assert trial_build(dict(resolved, scale=1.0), "Optimizer") == [] and len(user_optim.BUILT) == 1
