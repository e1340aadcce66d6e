"""The PaddleSeg adapter as a component of PaddleSeg 2.8.0's registry (in-process): ``custom_cfg``
groups with lr / decay multipliers, the decoupled spelling, Lookahead around a PaddleSeg-built inner
component, and keys refused at config time."""
import paddle
import pytest

import paddle_optim.suites as suites
from paddle_optim.errors import ConfigError

suites.register("paddleseg")
from paddleseg.cvlibs import manager  # noqa: E402


class Net(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.backbone = paddle.nn.Conv2D(3, 4, 3)
        self.bn = paddle.nn.BatchNorm2D(4)


def test_custom_cfg_groups_and_decoupled_decay():
    custom = [{"name": "backbone", "lr_mult": 0.1}, {"name": "bn", "weight_decay_mult": 0.0}]
    opt = manager.OPTIMIZERS["Ranger"](decoupled_decay=0.01, custom_cfg=custom, k=4)(Net(), 0.05)
    groups = opt.inner_optimizer._param_groups
    assert opt.inner_optimizer._decoupled
    assert [g["learning_rate"] for g in groups[:2]] == [0.1, 1.0]
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0, 0.01]
    coupled = manager.OPTIMIZERS["RAdam"](weight_decay=4e-5, grad_clip_cfg={"name": "ClipGradByNorm", "clip_norm": 1.0})(Net(), 0.05)
    assert not coupled._decoupled and coupled._grad_clip.clip_norm == 1.0


def test_lookahead_wraps_a_paddleseg_component():
    inner = manager.OPTIMIZERS["Momentum"](momentum=0.8, weight_decay=4e-5)  # what PaddleSeg's builder makes of inner: {type: ...}
    opt = manager.OPTIMIZERS["Lookahead"](inner=inner, alpha=0.6, k=3)(Net(), 0.05)
    assert type(opt.inner_optimizer) is paddle.optimizer.Momentum and opt.k == 3 and opt.alpha == 0.6
    from_dict = manager.OPTIMIZERS["Lookahead"](inner={"type": "RAdam", "beta1": 0.8})(Net(), 0.05)
    assert from_dict.inner_optimizer._beta1 == 0.8


@pytest.mark.parametrize("name, keys, message", [
    ("Ranger", {"momentum": 0.9}, r"optimizer.momentum: unknown key for Ranger; allowed: alpha, beta1, beta2, "
                                   r"custom_cfg, decoupled_decay, epsilon"),
    ("Ranger", {"weight_decay": 4e-5, "decoupled_decay": 0.01}, r"optimizer.weight_decay: give either weight_decay"),
    ("Lookahead", {"weight_decay": 4e-5, "inner": {"type": "SGD"}}, r"optimizer.weight_decay: set it on the inner"),
])
def test_bad_keys_fail_at_config_time(name, keys, message):
    with pytest.raises(ConfigError, match=message):
        manager.OPTIMIZERS[name](**keys)
