"""Portable optimizer checkpoints for any Paddle optimizer (native or ours).

Paddle's ``Optimizer.state_dict()`` keys every tensor by a generated name
(``linear_0.w_0_moment1_0``), so it cannot be loaded into a model rebuilt with other names (a
second model in the same process, or a different construction order). Here state is keyed like
torch's: by the parameter's POSITION (flattened over parameter groups, in order) and the kind of
accumulator (``moment1``, ``velocity``, ...). The dict holds numpy copies, so it survives
``paddle.save``/``paddle.load`` and a new process, and loading continues bit-for-bit::

    {"format": FORMAT, "optimizer": "AdamW", "group_sizes": [n0, n1, ...],
     "accumulators": {kind: {position: ndarray}},
     "master_weights": {position: ndarray},           # fp32 copies of float16/bfloat16 params
     "learning_rate": float | None,                    # when not driven by a scheduler
     "lr_scheduler": dict | None,                      # LRScheduler.state_dict()
     "LR_Scheduler": dict,                             # the same, under Paddle's key (if any)
     "extra": {...}}                                   # our classes: steps, slow weights, inner

``LR_Scheduler`` is where Paddle's own ``Optimizer.state_dict()`` keeps the scheduler, and where
suites (PaddleDetection's EMA resume) read it. On load, the group count and sizes, the optimizer
class and every shape and dtype are checked, and any other key is refused (it would be a native
optimizer's name-keyed state, e.g. ``linear_0.w_0_moment1_0``, merged into a fresh portable
state by a suite's resume code: accepting it would silently restart training); a mismatch raises
:class:`StateDictMismatch` (a ``UserError`` and a ``ValueError``).
"""
from typing import Dict, List

import numpy as np
import paddle
from paddle.optimizer.lr import LRScheduler

from paddle_optim import compat
from paddle_optim.errors import UserError

FORMAT = "paddle_optim.portable_optimizer_state/1"
#: Paddle's own key for the scheduler state in ``Optimizer.state_dict()``.
NATIVE_SCHEDULER_KEY = "LR_Scheduler"
_PORTABLE_KEYS = frozenset({"format", "optimizer", "group_sizes", "accumulators", "master_weights",
                            "learning_rate", "lr_scheduler", "extra", NATIVE_SCHEDULER_KEY})

__all__ = [
    "FORMAT",
    "NATIVE_SCHEDULER_KEY",
    "PortableStateMixin",
    "StateDictMismatch",
    "load_portable_state_dict",
    "parameter_groups",
    "portable_state_dict",
]


class StateDictMismatch(UserError, ValueError):
    """A checkpoint does not fit the optimizer it is loaded into."""


class PortableStateMixin:
    """Gives an optimizer portable ``state_dict`` / ``set_state_dict``.

    Subclasses add their own state (anything not in ``_accumulators`` / ``_master_weights``) by
    overriding :meth:`_export_extra_state` / :meth:`_import_extra_state`; ``params`` is the flat
    list of parameters in position order.
    """

    def state_dict(self) -> dict:
        """Portable state (see :mod:`paddle_optim.optimizers.state`)."""
        return portable_state_dict(self)

    def set_state_dict(self, state_dict: dict) -> None:
        """Load a dict made by :meth:`state_dict`, into possibly rebuilt parameters."""
        load_portable_state_dict(self, state_dict)

    def _export_extra_state(self, params: List) -> dict:
        return {}

    def _import_extra_state(self, params: List, extra: dict) -> None:
        pass


def parameter_groups(optimizer) -> List[List]:
    """The optimizer's parameters as a list of groups (one group without parameter groups)."""
    groups = optimizer._param_groups
    if groups and isinstance(groups[0], dict):
        return [list(group["params"]) for group in groups]
    return [list(groups)]


def _name_positions(optimizer, params: List) -> Dict[str, int]:
    # Native Adam keys the accumulators of a float16 parameter by its master weight's name.
    positions = {}
    for position, param in enumerate(params):
        positions[param.name] = position
        master = optimizer._master_weights.get(param.name)
        if master is not None:
            positions[master.name] = position
    return positions


def numpy_copy(tensor) -> np.ndarray:
    return np.array(tensor.numpy(), copy=True)


def portable_state_dict(optimizer) -> dict:
    """Everything needed to continue ``optimizer`` bit-for-bit, keyed by parameter position."""
    groups = parameter_groups(optimizer)
    params = [param for group in groups for param in group]
    positions = _name_positions(optimizer, params)
    accumulators = {}
    for kind, table in optimizer._accumulators.items():
        entries = {}
        for name, tensor in table.items():
            if name not in positions:
                raise RuntimeError(
                    f"accumulator {kind!r} of {name!r} belongs to no parameter of this optimizer"
                )
            entries[positions[name]] = numpy_copy(tensor)
        accumulators[kind] = entries
    masters = {
        position: numpy_copy(optimizer._master_weights[param.name])
        for position, param in enumerate(params)
        if param.name in optimizer._master_weights
    }
    scheduled = isinstance(optimizer._learning_rate, LRScheduler)
    state = {
        "format": FORMAT,
        "optimizer": type(optimizer).__name__,
        "group_sizes": [len(group) for group in groups],
        "accumulators": accumulators,
        "master_weights": masters,
        "learning_rate": None if scheduled else float(optimizer._learning_rate),
        "lr_scheduler": optimizer._learning_rate.state_dict() if scheduled else None,
        "extra": {},
    }
    if scheduled:
        state[NATIVE_SCHEDULER_KEY] = state["lr_scheduler"]
    if isinstance(optimizer, PortableStateMixin):
        state["extra"] = optimizer._export_extra_state(params)
    return state


def _refuse_foreign_entries(state) -> None:
    """A dict with keys of no portable state (see the module docstring) is an error naming them."""
    foreign = sorted(str(key) for key in state if key not in _PORTABLE_KEYS)
    if not foreign:
        return
    shown = ", ".join(repr(key) for key in foreign[:3])
    if len(foreign) > 3:
        shown += f" and {len(foreign) - 3} more"
    entries = f"{len(foreign)} name-keyed entr{'y' if len(foreign) == 1 else 'ies'} ({shown})"
    if state.get("format") == FORMAT:
        raise StateDictMismatch(
            f"optimizer state mixes a portable state with {entries} of a native Paddle "
            "optimizer: another optimizer's state_dict() merged into this optimizer's fresh "
            "state (as a suite's resume code does); loading it would silently restart training. "
            "Load the state_dict() this optimizer saved"
        )
    raise StateDictMismatch(
        f"not a portable optimizer state: it has {entries}, a native Paddle optimizer's own "
        "state_dict(); load the state_dict() this optimizer saved (for a native optimizer: "
        "paddle_optim.optimizers.state.portable_state_dict)"
    )


def _create_all_accumulators(optimizer) -> None:
    # Accumulators are normally created lazily by the first step; create them now (as that step
    # would) so that the loaded values have somewhere to go.
    optimizer.helper = compat.LayerHelper(type(optimizer).__name__)
    block = paddle.static.default_main_program().global_block()
    with paddle.no_grad():
        if optimizer._param_groups and isinstance(optimizer._param_groups[0], dict):
            for group in optimizer._param_groups:
                trainable = [p for p in group["params"] if not p.stop_gradient]
                optimizer._create_accumulators(block, dict(group, params=trainable))
        else:
            trainable = [p for p in optimizer._param_groups if not p.stop_gradient]
            optimizer._create_accumulators(block, trainable)


def assign_checked(tensor, value, what: str) -> None:
    """Copy ``value`` (ndarray or Tensor) into ``tensor`` after checking shape and dtype."""
    array = np.asarray(value.numpy() if isinstance(value, paddle.Tensor) else value)
    expected = tensor.numpy()
    if tuple(array.shape) != tuple(expected.shape) or array.dtype != expected.dtype:
        raise StateDictMismatch(
            f"optimizer state {what}: checkpoint has shape {list(array.shape)} {array.dtype}, "
            f"the optimizer expects {list(expected.shape)} {expected.dtype}"
        )
    tensor.set_value(array)


def load_portable_state_dict(optimizer, state: dict) -> None:
    """Load a :func:`portable_state_dict` into ``optimizer`` (its parameters may be rebuilt)."""
    if isinstance(state, dict):
        _refuse_foreign_entries(state)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateDictMismatch(
            "not a portable optimizer state (expected the dict made by "
            "paddle_optim.optimizers.state.portable_state_dict / our optimizers' state_dict())"
        )
    if state["optimizer"] != type(optimizer).__name__:
        raise StateDictMismatch(
            f"optimizer state was saved from {state['optimizer']}, "
            f"it cannot be loaded into {type(optimizer).__name__}"
        )
    groups = parameter_groups(optimizer)
    sizes = [len(group) for group in groups]
    if list(state["group_sizes"]) != sizes:
        raise StateDictMismatch(
            f"optimizer state has {len(state['group_sizes'])} parameter group(s) of sizes "
            f"{list(state['group_sizes'])}; this optimizer has {len(sizes)} of sizes {sizes}"
        )
    params = [param for group in groups for param in group]
    if state["accumulators"] or state["master_weights"]:
        _create_all_accumulators(optimizer)
    positions = _name_positions(optimizer, params)
    for kind, entries in state["accumulators"].items():
        table = optimizer._accumulators.get(kind, {})
        by_position = {positions[name]: tensor for name, tensor in table.items()}
        for position, value in entries.items():
            if position not in by_position:
                raise StateDictMismatch(
                    f"optimizer state has accumulator {kind!r} for parameter #{position} "
                    f"({params[position].name}), which this optimizer does not keep"
                )
            assign_checked(by_position[position], value, f"{kind} of parameter #{position}")
    for position, value in state["master_weights"].items():
        master = optimizer._master_weights.get(params[position].name)
        if master is None:
            raise StateDictMismatch(
                f"optimizer state has a master weight for parameter #{position} "
                f"({params[position].name}), but this optimizer keeps none (multi_precision?)"
            )
        assign_checked(master, value, f"master weight of parameter #{position}")
    scheduler_state = state["lr_scheduler"]
    if scheduler_state is None:
        scheduler_state = state.get(NATIVE_SCHEDULER_KEY)
    if scheduler_state is not None:
        if not isinstance(optimizer._learning_rate, LRScheduler):
            raise StateDictMismatch(
                "optimizer state has an LR scheduler, but this optimizer has a float learning rate"
            )
        optimizer._learning_rate.set_state_dict(scheduler_state)
    elif isinstance(optimizer._learning_rate, LRScheduler):
        raise StateDictMismatch(
            "optimizer state has a float learning rate, but this optimizer has an LR scheduler"
        )
    else:
        optimizer.set_lr(state["learning_rate"])
    if isinstance(optimizer, PortableStateMixin):
        optimizer._import_extra_state(params, state["extra"])
