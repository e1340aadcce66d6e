"""Fine-tuning keys of the ``Model`` section: start from local weights, freeze parameters by name.

::

    Model:
      name: mlp
      pretrained: output/base/checkpoints/latest   # a .pdparams file, a checkpoint prefix, a checkpoints or run dir
      pretrained_strict: false                     # missing / unexpected / shape-mismatched keys keep their
                                                   # fresh initialisation (a replaced head) instead of an error
      freeze: ["net.0.*"]                          # fnmatch patterns of structured parameter names

Both are applied to the freshly built model before the optimizer is built, so frozen parameters
(``stop_gradient = True``) get no optimizer state and no decay, and Lookahead's slow weights start
from the loaded ones.
"""
import os
import pickle
import warnings
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
import paddle

from ..config.patterns import check_patterns, matches, require_matches
from ..config.schema import Field
from ..errors import ConfigError

_CHECKPOINT_NAME = "latest"  # the name paddle_optim.training.checkpoint gives the newest checkpoint
_ALLOWED = ("allowed: a .pdparams file (paddle.save(model.state_dict())), a checkpoint prefix "
            "(.../checkpoints/latest), a checkpoints directory or a run's output directory")


def weights_file(path: str) -> str:
    """The ``.pdparams`` file that ``path`` names: the file itself, ``<prefix>.pdparams`` of a checkpoint
    prefix, or ``latest.pdparams`` of a checkpoints directory or of a run's (it may not exist)."""
    if os.path.isdir(os.path.join(path, "checkpoints")):  # a run's output directory
        path = os.path.join(path, "checkpoints")
    if os.path.isdir(path):
        return os.path.join(path, _CHECKPOINT_NAME + ".pdparams")
    if path.endswith((".pdopt", ".pdstates")):
        return os.path.splitext(path)[0] + ".pdparams"
    if os.path.isfile(path) or path.endswith(".pdparams"):
        return path
    return path + ".pdparams"


def _check_pretrained(path: str, key: str) -> None:
    if not os.path.isfile(weights_file(path)):
        raise ConfigError(key, f"no weights at {path} ({weights_file(path)} is not a file); {_ALLOWED}")


#: The fine-tuning keys every model accepts (besides its own arguments).
FINE_TUNING_FIELDS = {
    "pretrained": Field((str,), None, check=_check_pretrained, help="weights loaded before training"),
    "pretrained_strict": Field((bool,), True, help="false: keys that do not fit keep their fresh initialisation"),
    "freeze": Field((list,), [], check=check_patterns, help="fnmatch patterns of parameters not trained"),
}


def apply_fine_tuning(model: paddle.nn.Layer, section: Mapping[str, Any]) -> List[str]:
    """Load ``Model.pretrained`` into ``model`` and freeze ``Model.freeze``; return the report lines.

    Raises ConfigError for weights that do not fit (unless ``pretrained_strict`` is false) and for
    a freeze pattern that matches no parameter.
    """
    report = []
    if section.get("pretrained"):
        report.append(load_pretrained(model, section["pretrained"], section.get("pretrained_strict", True)))
    if section.get("freeze"):
        report.append(freeze(model, section["freeze"]))
    return report


def _read_state(path: str) -> Dict[str, Any]:
    file = weights_file(path)
    try:
        state = paddle.load(file)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, OSError, RuntimeError, AttributeError) as err:
        raise ConfigError("Model.pretrained", f"cannot read {file}: {type(err).__name__}: {err}; {_ALLOWED}") from None
    if not isinstance(state, dict):
        raise ConfigError("Model.pretrained", f"{file} holds a {type(state).__name__}, not a state dict; {_ALLOWED}")
    return state


def _layout(value, dtypes: bool) -> str:
    shape = str(list(np.shape(value)))
    return f"{shape} {str(value.dtype).replace('paddle.', '')}" if dtypes else shape


def compare_states(own: Mapping[str, Any], state: Mapping[str, Any], source: str, dtypes: bool = False):
    """``(missing, unexpected, mismatched)`` keys of ``state`` against a model's ``own`` state dict;
    each mismatched one as ``"key (<source> [shape] [dtype], model [shape] [dtype])"`` (dtypes compared
    too when ``dtypes``). ``set_state_dict`` itself only warns about a mismatch and skips the tensor."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} ({source} {_layout(state[k], dtypes)}, model {_layout(own[k], dtypes)})" for k in own
                  if k in state and _layout(state[k], dtypes) != _layout(own[k], dtypes)]
    return missing, unexpected, mismatched


def load_pretrained(model: paddle.nn.Layer, path: str, strict: bool = True) -> str:
    """Copy the entries of the weights at ``path`` whose name and shape fit ``model``; return the report.

    With ``strict``, any missing, unexpected or shape-mismatched key is a ConfigError and nothing is loaded.
    """
    state, own = _read_state(path), model.state_dict()
    missing, unexpected, mismatched = compare_states(own, state, "weights")
    problems = "; ".join(f"{what}: {', '.join(keys)}" for what, keys in
                         (("shape-mismatched", mismatched), ("missing", missing), ("unexpected", unexpected)) if keys)
    if problems and strict:
        raise ConfigError("Model.pretrained", f"{weights_file(path)} does not fit the model: {problems}; set "
                          "Model.pretrained_strict: false to keep the fresh initialisation of these keys")
    fitting = {k: v for k, v in state.items() if k in own and list(np.shape(v)) == list(own[k].shape)}
    with warnings.catch_warnings():  # Paddle warns about each key left out; the report names them once
        warnings.simplefilter("ignore")
        model.set_state_dict(fitting)
    line = f"Model.pretrained: loaded {len(fitting)} of {len(own)} keys from {weights_file(path)}"
    return line + (f"; skipped (fresh initialisation kept): {problems}" if problems else "")


def freeze(model: paddle.nn.Layer, patterns: Sequence[str]) -> str:
    """``stop_gradient = True`` on every parameter whose structured name matches one of ``patterns``."""
    named = list(model.named_parameters())
    for i, pattern in enumerate(patterns):
        require_matches([pattern], [name for name, _ in named], f"Model.freeze[{i}]")
    frozen = [name for name, _ in named if matches(name, patterns)]
    if len(frozen) == len(named):
        raise ConfigError("Model.freeze", f"{patterns} matches every parameter: nothing would be trained")
    for name, param in named:
        if name in frozen:
            param.stop_gradient = True
    return f"Model.freeze: {len(frozen)} of {len(named)} parameters frozen: {', '.join(frozen)}"
