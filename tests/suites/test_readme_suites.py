"""The YAML of README.md's suites section, built the way each suite builds it: PaddleClas and
PaddleOCR blocks through their factory convention (everywhere), ppdet and PaddleSeg blocks through
the real ``OptimizerBuilder`` / ``manager.OPTIMIZERS`` (in the suites environment, where both are
installed)."""
import re
from pathlib import Path

import paddle
import pytest
import yaml

from paddle_optim.suites.factory import CLAS, OCR, adapter

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- BEGIN suites -->"):text.index("<!-- END suites -->")]
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def _model():
    # Sublayer names that the README's custom_cfg / no_weight_decay_name patterns match.
    model = paddle.nn.Layer()
    model.backbone = paddle.nn.Conv2D(3, 4, 3)
    model.norm = paddle.nn.BatchNorm2D(4)
    return model


def _like_the_suite(section, convention):
    """What PaddleClas / PaddleOCR's build_optimizer hands the factory for this Optimizer section."""
    cfg = dict(section)
    cfg.pop("lr")  # becomes the learning_rate scheduler
    name = cfg.pop("name")
    reg = cfg.pop("regularizer", None)
    if reg is not None:
        coeff = reg.get("coeff", reg.get("factor"))
        reg = (getattr(paddle.regularizer, reg["name"] + "Decay")(coeff) if convention is CLAS or reg["name"] == "L1"
               else float(coeff))  # PaddleOCR's L2Decay() returns the float
    clip = cfg.pop("clip_norm_global", None)
    grad_clip = paddle.nn.ClipGradByGlobalNorm(clip) if clip else None
    factory = adapter(name, convention)(learning_rate=0.01, weight_decay=reg, grad_clip=grad_clip, **cfg)
    return factory(model_list=[_model()]) if convention is CLAS else factory(_model())


def test_clas_and_ocr_blocks_build():
    sections = [b["Optimizer"] for b in _blocks() if isinstance(b, dict) and "Optimizer" in b]
    assert len(sections) == 2
    assert type(_like_the_suite(sections[0], CLAS)).__name__ == "Ranger"
    assert type(_like_the_suite(sections[1], OCR)).__name__ == "Ranger"


def test_ppdet_and_paddleseg_blocks_build():
    pytest.importorskip("ppdet")
    pytest.importorskip("paddleseg")
    import paddle_optim.suites as suites

    suites.register("paddledet")
    suites.register("paddleseg")
    from paddleseg.cvlibs import manager
    from ppdet.optimizer import OptimizerBuilder

    blocks = _blocks()
    det = next(b["OptimizerBuilder"] for b in blocks if isinstance(b, dict) and "OptimizerBuilder" in b)
    assert type(OptimizerBuilder(**det)(0.01, _model())).__name__ == "Ranger"
    seg = dict(next(b["optimizer"] for b in blocks if isinstance(b, dict) and "optimizer" in b))
    assert type(manager.OPTIMIZERS[seg.pop("type")](**seg)(_model(), 0.01)).__name__ == "Ranger"
