"""Models by name and by import path, with their arguments checked."""
import textwrap

import paddle
import pytest

from paddle_optim.data.arrays import DatasetInfo
from paddle_optim.errors import ConfigError
from paddle_optim.models import build_model, validate_model_section


def built(raw, info):
    section, errors = validate_model_section(raw, "Model")
    assert errors == [], errors
    return build_model(section, info)


@pytest.mark.parametrize("raw, info, input_shape", [
    ({"name": "mlp", "hidden_sizes": [8, 8], "dropout": 0.1}, DatasetInfo((64,), 10), [2, 64]),
    ({"name": "mlp"}, DatasetInfo((1, 8, 8), 10), [2, 1, 8, 8]),
    ({"name": "cnn", "channels": [4, 8]}, DatasetInfo((1, 8, 8), 10), [2, 1, 8, 8]),
    ({"name": "resnet18"}, DatasetInfo((3, 32, 32), 10), [2, 3, 32, 32]),
    ({"name": "mobilenet_v2", "num_classes": 7}, DatasetInfo((3, 32, 32), 10), [2, 3, 32, 32]),
])
def test_models_by_name_take_their_sizes_from_the_data(raw, info, input_shape):
    model = built(raw, info)
    model.eval()
    out = model(paddle.randn(input_shape))
    assert out.shape == [2, raw.get("num_classes", info.num_classes)]


def test_user_model_by_import_path_with_kwargs(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent("""
        import paddle

        class Net(paddle.nn.Layer):
            def __init__(self, num_classes, width=4):
                super().__init__()
                self.fc1 = paddle.nn.Linear(3, width)
                self.fc2 = paddle.nn.Linear(width, num_classes)

            def forward(self, x):
                return self.fc2(self.fc1(x))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = built({"name": "my_nets:Net", "width": 6}, DatasetInfo((3,), 5))
    assert model.fc1.weight.shape == [3, 6] and model.fc2.weight.shape == [6, 5]
    _, errors = validate_model_section({"name": "my_nets:Net", "widht": 6}, "Model")
    assert errors[0].key == "Model.widht" and "did you mean 'width'" in str(errors[0])
    _, errors = validate_model_section({"name": "my_nets:Nett"}, "Model")
    assert "did you mean 'Net'" in str(errors[0])


def test_cnn_needs_image_shaped_samples():
    section, _ = validate_model_section({"name": "cnn"}, "Model")
    with pytest.raises(ConfigError, match="as_image: true"):
        build_model(section, DatasetInfo((64,), 10))


def test_unknown_model_lists_the_choices():
    _, errors = validate_model_section({"name": "resnet19"}, "Model")
    assert "did you mean 'resnet18'" in str(errors[0]) and "mlp" in str(errors[0])
