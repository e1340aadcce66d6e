"""Models by name: ``mlp``, ``cnn``, the ``paddle.vision.models`` family, or a user class by import path.

``Model`` config section: ``name`` plus the model's own arguments, checked against its signature::

    Model: {name: mlp, hidden_sizes: [128]}            # in_features / num_classes come from the data
    Model: {name: resnet18}                             # any name of VISION_MODELS; num_classes from the data
    Model: {name: "mypkg.nets:MyNet", width: 64}        # a paddle.nn.Layer subclass (or factory)
    Model: {name: mlp, pretrained: base/checkpoints, pretrained_strict: false, freeze: ["net.1.*"]}

Every model also takes the fine-tuning keys ``pretrained``, ``pretrained_strict`` and ``freeze``
(:mod:`paddle_optim.models.pretrained`, applied by the trainer before the optimizer is built).

``num_classes`` (and ``in_features`` / ``in_channels`` for the small models) default to what the data
set reports; a user class gets ``num_classes`` only when its signature has that argument and the
config does not set it.
"""
import inspect
import math
from typing import Any, Callable, Dict, List, Mapping, Tuple

from ..config.ranges import COUNT, HALF_OPEN_UNIT
from ..config.schema import Field, join_key, unknown_name_message, validate_section
from ..config.fields import number_list
from ..errors import ConfigError
from .pretrained import FINE_TUNING_FIELDS
from .small import MLP, SmallCNN
from ..config.import_path import check_kwargs, is_import_path, load_object

_DROPOUT = Field((float,), 0.0, HALF_OPEN_UNIT)
_SIZE = Field((int,), None, COUNT)
SMALL_FIELDS = {
    "mlp": {"hidden_sizes": number_list([128], COUNT, integers=True), "dropout": _DROPOUT,
            "in_features": _SIZE, "num_classes": _SIZE},
    "cnn": {"channels": number_list([32, 64], COUNT, integers=True), "dropout": _DROPOUT,
            "in_channels": _SIZE, "num_classes": _SIZE},
}

# paddle.vision.models factories by name (explicit: a config name is never looked up with getattr).
VISION_MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "wide_resnet50_2", "vgg11", "vgg16", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
                 "mobilenet_v3_large", "alexnet", "squeezenet1_0", "squeezenet1_1", "densenet121",
                 "googlenet", "inception_v3", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0")
VISION_FIELDS = {"num_classes": _SIZE, "with_pool": Field((bool,), True)}


def _vision_factories() -> Dict[str, Callable]:
    import paddle.vision.models as pvm

    namespace = vars(pvm)
    return {name: namespace[name] for name in VISION_MODELS if name in namespace}


def model_names() -> List[str]:
    return sorted(list(SMALL_FIELDS) + list(VISION_MODELS))


def validate_model_section(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    if not isinstance(raw, Mapping) or "name" not in raw:
        return {}, [ConfigError(join_key(path, "name"), "is required: mlp, cnn, a paddle.vision model "
                                "(resnet18, ...) or an import path 'package.module:Class'")]
    fine_tuning, problems = validate_section({k: v for k, v in raw.items() if k in FINE_TUNING_FIELDS},
                                             FINE_TUNING_FIELDS, path)
    raw = {k: v for k, v in raw.items() if k not in FINE_TUNING_FIELDS}
    section, errors = _validate_model(raw, path)
    return dict(section, **fine_tuning), problems + errors


def _validate_model(raw: Mapping[str, Any], path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """The model's name and its own arguments (the fine-tuning keys are taken out)."""
    name = raw["name"]
    if not isinstance(name, str):
        return {}, [ConfigError(join_key(path, "name"), unknown_name_message("model", name, model_names()))]
    if is_import_path(name):
        try:
            cls = load_object(name, join_key(path, "name"))
        except ConfigError as err:
            return dict(raw), [err]
        kwargs = {k: v for k, v in raw.items() if k != "name"}
        reserved = ("num_classes",) if "num_classes" in inspect.signature(cls).parameters else ()
        return dict(raw), check_kwargs(cls, kwargs, path, reserved)
    if name in SMALL_FIELDS:
        fields = SMALL_FIELDS[name]
    elif name in VISION_MODELS:
        fields = VISION_FIELDS
    else:
        return {}, [ConfigError(join_key(path, "name"), unknown_name_message("model", name, model_names()) +
                                " or an import path 'package.module:Class'")]
    return validate_section(raw, dict(fields, name=Field((str,))), path)


def build_model(section: Mapping[str, Any], info):
    """The ``paddle.nn.Layer`` of a resolved ``Model`` section for data described by ``info`` (DatasetInfo)."""
    kwargs = {k: v for k, v in section.items() if k != "name" and k not in FINE_TUNING_FIELDS}
    name = section["name"]
    if kwargs.get("num_classes") is None:
        kwargs["num_classes"] = info.num_classes
    if name == "mlp":
        kwargs["in_features"] = kwargs.get("in_features") or math.prod(info.sample_shape)
        return MLP(**kwargs)
    if name == "cnn":
        if len(info.sample_shape) != 3:
            raise ConfigError("Model.name", f"cnn needs image samples (C, H, W), the data gives {info.sample_shape}; "
                              "for digits set Data.dataset.as_image: true")
        kwargs["in_channels"] = kwargs.get("in_channels") or info.sample_shape[0]
        return SmallCNN(**kwargs)
    if name in VISION_MODELS:
        return _vision_factories()[name](pretrained=False, **kwargs)
    cls = load_object(name, "Model.name")
    if "num_classes" not in section and "num_classes" not in inspect.signature(cls).parameters:
        kwargs.pop("num_classes")
    return cls(**kwargs)
