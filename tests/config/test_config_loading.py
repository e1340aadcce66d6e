"""Config loading, overrides and section schemas (no Paddle needed beyond the conftest)."""
import pytest

from paddle_optim.config import Field, Range, apply_overrides, check_range, load_yaml_file, validate_section
from paddle_optim.errors import ConfigError, UserError

FIELDS = {
    "epochs": Field((int,), default=10, range=Range(1, None)),
    "lr": Field((float,), default=0.1, range=Range(0, None, low_inclusive=False)),
    "device": Field((str,), default="auto", choices=("auto", "cpu", "gpu")),
    "name": Field((str,)),
}


def test_defaults_filled_and_numeric_strings_accepted():
    resolved, errors = validate_section({"name": "x", "lr": "1e-3"}, FIELDS, "Global")
    assert errors == []
    assert resolved == {"name": "x", "lr": 0.001, "epochs": 10, "device": "auto"}


@pytest.mark.parametrize("raw, key, fragment", [
    ({"name": "x", "epcohs": 3}, "Global.epcohs", "did you mean 'epochs'"),
    ({"name": "x", "epochs": 0}, "Global.epochs", "allowed: >= 1"),
    ({"name": "x", "epochs": 2.5}, "Global.epochs", "expected integer"),
    ({"name": "x", "lr": 0}, "Global.lr", "allowed: > 0"),
    ({"name": "x", "device": "tpu"}, "Global.device", "allowed: auto, cpu, gpu"),
    ({}, "Global.name", "is required"),
    ({"name": "x", "epochs": True}, "Global.epochs", "expected integer"),
])
def test_each_problem_names_key_and_allowed(raw, key, fragment):
    _, errors = validate_section(raw, FIELDS, "Global")
    assert len(errors) == 1
    assert errors[0].key == key
    assert fragment in str(errors[0])


def test_all_problems_reported_at_once():
    _, errors = validate_section({"epochs": -1, "lr": -1, "bogus": 1}, FIELDS, "Global")
    assert sorted(e.key for e in errors) == ["Global.bogus", "Global.epochs", "Global.lr", "Global.name"]


def test_check_range_value_error_names_argument():
    unit = Range(0, 1, high_inclusive=False)
    with pytest.raises(ValueError, match=r"beta1=1\.5 is out of range; allowed: \[0, 1\)"):
        check_range("beta1", 1.5, unit)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="out of range"):
            check_range("beta1", bad, Range(0, None))
    with pytest.raises(ValueError, match=r"beta1='0\.9' must be a number in \[0, 1\)"):
        check_range("beta1", "0.9", unit)
    assert check_range("beta1", 0, unit) == 0.0


def test_overrides_are_yaml_typed_and_never_evaluated():
    cfg = {"Global": {"epochs": 3}, "Optimizer": {"name": "Momentum"}}
    out = apply_overrides(cfg, ["Global.epochs=5", "Optimizer.momentum=0.9", "Global.tags=[a, b]",
                                "Global.cmd=__import__('os').system('false')"])
    assert out["Global"]["epochs"] == 5 and out["Optimizer"]["momentum"] == 0.9
    assert out["Global"]["tags"] == ["a", "b"]
    assert out["Global"]["cmd"] == "__import__('os').system('false')"
    assert cfg["Global"]["epochs"] == 3  # input untouched


@pytest.mark.parametrize("bad", ["Global.epochs", "=3", "Global..epochs=3", "Global.epochs=[1,"])
def test_malformed_overrides(bad):
    with pytest.raises(UserError):
        apply_overrides({}, [bad])


def test_override_into_scalar_is_an_error():
    with pytest.raises(ConfigError, match="Global.epochs"):
        apply_overrides({"Global": {"epochs": 3}}, ["Global.epochs.x=1"])


def test_yaml_file_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_yaml_file(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("Global:\n  epochs: [1, 2\n")
    with pytest.raises(UserError, match="malformed YAML at line"):
        load_yaml_file(str(bad))
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(UserError, match="top level must be a mapping"):
        load_yaml_file(str(scalar))
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("x: !!python/object/apply:os.system ['false']\n")
    with pytest.raises(UserError, match="malformed YAML"):
        load_yaml_file(str(unsafe))
