"""THE optimizer-info table of the optimizer tests: per optimizer, the inputs that must fail with their
message and the configurations the generic tests run (like torch's ``common_optimizers.py``).

Adding an optimizer means adding one :class:`OptimizerInfo` here; the API, AMP, resume and Lookahead
tests iterate the table:

* ``bad_inputs``     (keyword arguments, the ValueError message): ``test_optimizer_api``;
* ``amp``            configurations that must honour GradScaler's ``found_inf``: ``test_amp``;
* ``resume``         configurations saved mid-run, rebuilt, reloaded and continued: ``test_state_resume``;
* ``lookahead_inner`` (capability) the optimizer as Lookahead's inner one, vs Algorithm 1: ``test_lookahead_ranger``.

Every factory takes the parameters (``params``) and builds the optimizer.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import paddle

from paddle_optim import Lookahead, RAdam, Ranger

#: Lookahead's k in the AMP configurations (a synchronisation falls inside the test's steps).
AMP_K = 4
#: Steps of the resume test's run (its schedules span them).
RESUME_STEPS = 20


def _cosine():
    return paddle.optimizer.lr.CosineAnnealingDecay(0.02, T_max=RESUME_STEPS)


def linear_params():
    """Parameters of a small layer, for constructor tests."""
    return paddle.nn.Linear(3, 2).parameters()


Factory = Callable[[List], paddle.optimizer.Optimizer]


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    make: Callable[..., paddle.optimizer.Optimizer]  # (parameters=..., **kwargs): the constructor the bad inputs go to
    bad_inputs: Sequence[Tuple[dict, str]] = ()
    amp: Mapping[str, Factory] = field(default_factory=dict)
    resume: Mapping[str, Tuple[str, Factory]] = field(default_factory=dict)  # name -> (dtype, factory)
    lookahead_inner: Optional[Factory] = None


def _lookahead(parameters=None, **kwargs):
    return Lookahead(paddle.optimizer.SGD(0.1, parameters=parameters or linear_params()), **kwargs)


INFOS: List[OptimizerInfo] = [
    OptimizerInfo(
        "RAdam", RAdam,
        bad_inputs=[
            (dict(learning_rate=-0.1), "learning_rate=-0.1 is out of range; allowed: >= 0"),
            (dict(beta1=1.0), "beta1=1.0 is out of range; allowed: [0, 1)"),
            (dict(beta1=-0.1), "beta1=-0.1 is out of range; allowed: [0, 1)"),
            (dict(beta2=1.5), "beta2=1.5 is out of range; allowed: [0, 1)"),
            (dict(epsilon=0.0), "epsilon=0.0 is out of range; allowed: > 0"),
            (dict(epsilon=-1e-8), "epsilon=-1e-08 is out of range; allowed: > 0"),
            (dict(beta1="0.9"), "beta1='0.9' must be a number in [0, 1)"),
            (dict(weight_decay=-0.1), "weight_decay=-0.1 is out of range; allowed: >= 0"),
            (dict(weight_decay=paddle.regularizer.L2Decay(0.1), decoupled_weight_decay=True),
             "decoupled decay takes a float coefficient; allowed: None or a float >= 0"),
            (dict(parameters=None), "parameters=None: the optimizer needs the parameters"),
            (dict(parameters=[]), "parameters=[]: the optimizer needs the parameters"),
        ],
        amp={"RAdam": lambda ps: RAdam(0.01, parameters=ps)},
        resume={"RAdam groups": ("float32", lambda ps: RAdam(
            _cosine(), parameters=[{"params": ps[:2]}, {"params": ps[2:], "learning_rate": 0.5}],
            weight_decay=0.01, decoupled_weight_decay=True))},
        lookahead_inner=lambda params: RAdam(0.01, parameters=params)),
    OptimizerInfo(
        "Ranger", Ranger,
        bad_inputs=[
            (dict(learning_rate=-1.0), "learning_rate=-1.0 is out of range; allowed: >= 0"),
            (dict(beta2=1.0), "beta2=1.0 is out of range; allowed: [0, 1)"),
            (dict(alpha=0.0), "alpha=0.0 is out of range; allowed: (0, 1]"),
            (dict(alpha=1.5), "alpha=1.5 is out of range; allowed: (0, 1]"),
            (dict(k=0), "k=0 is out of range; allowed: an integer >= 1"),
            (dict(k=2.5), "k=2.5 is out of range; allowed: an integer >= 1"),
            (dict(parameters=None), "parameters=None: the optimizer needs the parameters"),
        ],
        amp={"Ranger": lambda ps: Ranger(0.01, parameters=ps, k=AMP_K)},
        resume={"Ranger": ("float32", lambda ps: Ranger(_cosine(), parameters=ps)),
                "Ranger float64": ("float64", lambda ps: Ranger(0.01, parameters=ps, weight_decay=0.01)),
                "Ranger fp16 master": ("float16", lambda ps: Ranger(_cosine(), parameters=ps, multi_precision=True))}),
    OptimizerInfo(
        "Lookahead", _lookahead,
        bad_inputs=[
            (dict(alpha=-0.5), "alpha=-0.5 is out of range; allowed: (0, 1]"),
            (dict(k=0), "k=0 is out of range; allowed: an integer >= 1"),
        ],
        amp={"Lookahead Momentum": lambda ps: Lookahead(paddle.optimizer.Momentum(0.01, parameters=ps), k=AMP_K),
             "Lookahead Adam": lambda ps: Lookahead(paddle.optimizer.Adam(0.01, parameters=ps), k=AMP_K),
             "Lookahead RAdam": lambda ps: Lookahead(RAdam(0.01, parameters=ps), k=AMP_K)},
        resume={"Lookahead Momentum": ("float32", lambda ps: Lookahead(
                    paddle.optimizer.Momentum(_cosine(), momentum=0.9, parameters=ps), k=5)),
                "Lookahead AdamW": ("float32", lambda ps: Lookahead(
                    paddle.optimizer.AdamW(0.01, parameters=ps), alpha=0.7, k=5)),
                "Lookahead multi-tensor Momentum": ("float32", lambda ps: Lookahead(
                    paddle.optimizer.Momentum(0.05, parameters=ps, use_multi_tensor=True), k=5))}),
    # Native Paddle optimizers: their state must round-trip through our portable state, and the usual
    # ones serve as Lookahead's inner optimizer.
    OptimizerInfo(
        "Momentum", paddle.optimizer.Momentum,
        resume={"native Momentum groups": ("float32", lambda ps: paddle.optimizer.Momentum(
            0.05, parameters=[{"params": ps[:1]}, {"params": ps[1:], "learning_rate": 0.5}]))},
        lookahead_inner=lambda params: paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=params)),
    OptimizerInfo(
        "Adam", paddle.optimizer.Adam,
        resume={"native multi-tensor Adam": ("float32", lambda ps: paddle.optimizer.Adam(
            0.01, parameters=ps, use_multi_tensor=True))},
        lookahead_inner=lambda params: paddle.optimizer.Adam(0.01, parameters=params)),
    OptimizerInfo(
        "AdamW", paddle.optimizer.AdamW,
        resume={"native AdamW": ("float32", lambda ps: paddle.optimizer.AdamW(_cosine(), parameters=ps))},
        lookahead_inner=lambda params: paddle.optimizer.AdamW(0.01, parameters=params, weight_decay=0.1)),
    OptimizerInfo("SGD", paddle.optimizer.SGD, resume={
        "native SGD": ("float32", lambda ps: paddle.optimizer.SGD(_cosine(), parameters=ps))}),
    OptimizerInfo("RMSProp", paddle.optimizer.RMSProp, resume={
        "native RMSProp": ("float32", lambda ps: paddle.optimizer.RMSProp(0.01, parameters=ps, momentum=0.5,
                                                                          centered=True))}),
    OptimizerInfo("Adagrad", paddle.optimizer.Adagrad, resume={
        "native Adagrad": ("float32", lambda ps: paddle.optimizer.Adagrad(0.01, parameters=ps))}),
    OptimizerInfo("Adamax", paddle.optimizer.Adamax, resume={
        "native Adamax": ("float32", lambda ps: paddle.optimizer.Adamax(0.01, parameters=ps))}),
    OptimizerInfo("Lamb", paddle.optimizer.Lamb, resume={
        "native Lamb": ("float32", lambda ps: paddle.optimizer.Lamb(0.01, parameters=ps))}),
    OptimizerInfo("Adadelta", paddle.optimizer.Adadelta, resume={
        "native Adadelta": ("float32", lambda ps: paddle.optimizer.Adadelta(0.01, parameters=ps))}),
]


def bad_inputs() -> List[Tuple[str, Callable, dict, str]]:
    """``(optimizer name, constructor, keyword arguments, message)`` of every input that must fail."""
    return [(info.name, info.make, kwargs, message) for info in INFOS for kwargs, message in info.bad_inputs]


def amp_configurations() -> Dict[str, Factory]:
    return {name: make for info in INFOS for name, make in info.amp.items()}


def resume_configurations() -> Dict[str, Tuple[str, Factory]]:
    return {name: case for info in INFOS for name, case in info.resume.items()}


def lookahead_inners() -> Dict[str, Factory]:
    return {info.name: info.lookahead_inner for info in INFOS if info.lookahead_inner is not None}

