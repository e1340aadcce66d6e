"""The ``Loss`` config section and the loss it builds."""
from typing import Any, Mapping

import paddle

from ..config.ranges import HALF_OPEN_UNIT
from ..config.schema import Field

#: The ``Loss`` config section.
LOSS_FIELDS = {
    "name": Field((str,), "CrossEntropyLoss", choices=("CrossEntropyLoss",)),
    "label_smoothing": Field((float,), 0.0, HALF_OPEN_UNIT),
}


def build_loss(section: Mapping[str, Any]) -> paddle.nn.Layer:
    """The loss of a resolved ``Loss`` section."""
    return paddle.nn.CrossEntropyLoss(label_smoothing=section["label_smoothing"])
