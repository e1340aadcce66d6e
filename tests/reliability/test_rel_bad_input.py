"""Bad input never crashes: generated broken configs for ``train``, ``check`` and ``lr-plot``.

Hypothesis draws a command and one breakage (wrong type, missing section or key, unknown name or
key, out-of-range number, malformed YAML, a path that does not exist or cannot be written), applied
either in the YAML file or through ``-o``. Every case runs in-process through
``paddle_optim.cli.main`` and must return exit code 2 with ``error:`` lines only, one of them naming
the broken key (or file / option) and what is allowed, raise nothing, and leave the files of an
earlier run untouched. A few real subprocesses prove the same end to end (no traceback on stderr).
"""
import contextlib
import io
import os
import re
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import TINY_RUN, merge_config
from paddle_optim.cli import main

EXAMPLES = 240  # >= 200 broken configs per Paddle line, split over the three commands

BASE = merge_config(TINY_RUN, {
    "Global": {"epochs": 1, "seed": 3},
    "Data": {"dataset": dict(TINY_RUN["Data"]["dataset"], num_samples=64, num_val=16, num_features=4), "batch_size": 16},
    "Model": {"hidden_sizes": [8]},
    "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.001},
})
del BASE["Checkpoint"]

# What a message about the key must contain besides the key: the allowed values, the expected type,
# or what is missing.
HINT = re.compile(r"allowed|expected|is required|not found|malformed YAML|not a directory|cannot|no checkpoint")

# (section, key, kind) of keys with a declared type; kind picks the wrong-type values.
TYPED = [("Global", "epochs", "int"), ("Global", "seed", "int"), ("Global", "log_interval", "int"),
         ("Global", "eval_interval", "int"), ("Global", "accumulate_steps", "int"),
         ("Global", "max_nonfinite_steps", "int"), ("Global", "output_dir", "str"), ("Global", "device", "str"),
         ("Data", "batch_size", "int"), ("Data", "shuffle", "bool"), ("Data", "drop_last", "bool"),
         ("Data", "num_workers", "int"), ("Optimizer", "learning_rate", "float"), ("Optimizer", "momentum", "float"),
         ("Optimizer", "weight_decay", "float"), ("Loss", "label_smoothing", "float"), ("EMA", "enable", "bool"),
         ("EMA", "decay", "float"), ("Checkpoint", "keep_last", "int"), ("Checkpoint", "save_best", "bool"),
         ("LRScheduler", "eta_min", "float"), ("AMP", "init_loss_scaling", "float")]

NOT_A_NUMBER = st.from_regex(r"\A[a-z][a-z_ ]{0,10}\Z").filter(lambda s: s.strip() not in ("", "nan", "inf"))
WRONG = {
    "int": st.one_of(NOT_A_NUMBER, st.floats(0.5, 1e6).filter(lambda x: not x.is_integer()),
                     st.lists(st.integers(1, 9), min_size=1, max_size=3), st.just({"a": 1}), st.just(True)),
    "float": st.one_of(NOT_A_NUMBER, st.lists(st.floats(0, 1), min_size=1, max_size=3), st.just({"a": 1.0}),
                       st.booleans()),
    "bool": st.one_of(NOT_A_NUMBER.filter(lambda s: s not in ("y", "n", "yes", "no", "on", "off")),
                      st.integers(2, 99), st.just([True])),
    "str": st.one_of(st.integers(), st.lists(st.integers(), min_size=1, max_size=2), st.just({"a": "b"})),
}

NEGATIVE_OR_ZERO = st.integers(-10**6, 0)
OUT_OF_RANGE = [
    ("Global", "epochs", NEGATIVE_OR_ZERO), ("Global", "seed", st.integers(max_value=-1)),
    ("Global", "seed", st.integers(2**32, 2**70)), ("Global", "log_interval", NEGATIVE_OR_ZERO),
    ("Global", "eval_interval", NEGATIVE_OR_ZERO), ("Global", "accumulate_steps", NEGATIVE_OR_ZERO),
    ("Global", "max_nonfinite_steps", NEGATIVE_OR_ZERO), ("Data", "batch_size", NEGATIVE_OR_ZERO),
    ("Optimizer", "learning_rate", st.one_of(st.floats(max_value=-1e-9, allow_infinity=False),
                                             st.sampled_from([float("inf"), float("-inf"), float("nan")]))),
    ("Loss", "label_smoothing", st.one_of(st.floats(1.0, 1e9), st.floats(max_value=-1e-9, min_value=-1e9))),
    ("EMA", "decay", st.one_of(st.floats(1.0, 1e9), st.floats(-1e9, 0.0))),
    ("Checkpoint", "keep_last", st.integers(max_value=-1)), ("Checkpoint", "interval_steps", st.integers(max_value=-1)),
    ("Checkpoint", "save_interval", st.integers(max_value=-1)),
]

IDENT = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,12}\Z")
# Names that are guaranteed unknown: a prefix no optimizer, scheduler, model or data set has.
UNKNOWN_NAME = IDENT.map(lambda s: "Nope" + s)
NAMED = [("Optimizer", "name"), ("LRScheduler", "name"), ("Model", "name"), ("Data", "dataset.name"),
         ("Loss", "name"), ("AMP", "level"), ("Global", "device")]

MALFORMED = ["Global: {epochs: 1", "Data: [1, 2", "\tModel: {name: mlp}", "Optimizer: a: b: c",
             "  - item\nkey: [", "key: 'unterminated", "@reserved: 1", "Global: {a: 1}}", "? [1\n: 2"]


@st.composite
def breakages(draw, command):
    """``(raw config, overrides, extra argv, the key an error line must name)``; raw is a dict or YAML text."""
    config = yaml.safe_load(yaml.safe_dump(BASE))
    kind = draw(st.sampled_from(["type", "range", "unknown_name", "unknown_key", "unknown_section",
                                 "missing", "yaml", "path"]))
    if kind == "yaml":
        lines = yaml.safe_dump(config, sort_keys=False).splitlines()
        at = draw(st.integers(0, len(lines)))
        text = "\n".join(lines[:at] + [draw(st.sampled_from(MALFORMED))] + lines[at:])
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            return text, [], [], "malformed YAML"
        return text + "\n[", [], [], "malformed YAML"  # the fragment happened to parse: break the end
    if kind == "path":
        return _path_breakage(draw, config, command)
    if kind == "missing":
        section, key = draw(st.sampled_from([("Data", None), ("Model", None), ("Optimizer", None),
                                             ("Optimizer", "learning_rate"), ("Optimizer", "name"),
                                             ("Data", "dataset"), ("Model", "name")]))
        if key is None:
            del config[section]
            return config, [], [], section
        del config[section][key]
        return config, [], [], f"{section}.{key}"
    if kind == "unknown_section":
        name = draw(IDENT.map(lambda s: "X" + s))
        config[name] = {"a": 1}
        return config, [], [], name
    if kind == "unknown_key":
        section = draw(st.sampled_from(["Global", "Data", "Model", "Optimizer", "LRScheduler", "EMA", "Checkpoint"]))
        key, value = "x_" + draw(IDENT), draw(st.integers())
        return _set(draw, config, section, key, value)
    if kind == "unknown_name":
        section, key = draw(st.sampled_from(NAMED))
        return _set(draw, config, section, key, draw(UNKNOWN_NAME))
    if kind == "type":
        section, key, typ = draw(st.sampled_from(TYPED))
        return _set(draw, config, section, key, draw(WRONG[typ]))
    section, key, values = draw(st.sampled_from(OUT_OF_RANGE))
    return _set(draw, config, section, key, draw(values))


def _set(draw, config, section, key, value):
    """Write ``section.key = value`` in the file or as ``-o`` (the two must behave alike)."""
    if draw(st.booleans()):
        node = config.setdefault(section, {})
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
        return config, [], [], f"{section}.{key}"
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    text = text.removesuffix("...").strip()
    return config, [f"{section}.{key}={text}"], [], f"{section}.{key}"


def _path_breakage(draw, config, command):
    choices = ["config_missing", "npz_missing", "folder_missing"]
    if command == "train":
        choices += ["output_dir_under_file", "resume_missing"]
    if command == "lr-plot":
        choices += ["out_under_file"]
    which = draw(st.sampled_from(choices))
    missing = "/nonexistent_" + draw(IDENT)
    if which == "config_missing":
        return None, [], [], "config file not found"
    if which == "npz_missing":
        config["Data"]["dataset"] = {"name": "npz", "train": missing + ".npz"}
        return config, [], [], "Data.dataset.train"
    if which == "folder_missing":
        config["Data"]["dataset"] = {"name": "folder", "train_dir": missing, "val_dir": missing}
        return config, [], [], "Data.dataset.train_dir"
    if which == "output_dir_under_file":
        return config, ["Global.output_dir={REGULAR_FILE}/" + draw(IDENT)], [], "Global.output_dir"
    if which == "resume_missing":
        return config, [], ["--resume", missing], "--resume"
    return config, [], ["--out", "{REGULAR_FILE}/" + draw(IDENT) + ".png"], "--out"


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished run whose files no failing command may touch; and a regular file to put paths under."""
    root = tmp_path_factory.mktemp("earlier")
    config = yaml.safe_load(yaml.safe_dump(BASE))
    config["Global"]["output_dir"] = str(root / "run")
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "-c", str(path)]) == 0
    regular = root / "a_file"
    regular.write_text("not a directory\n")
    return root


def run_cli(argv):
    """``(exit code, stderr)`` of ``paddle_optim.cli.main(argv)``; stdout is discarded."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def build_argv(command, case, workdir, run_dir, regular_file):
    raw, overrides, extra, key = case
    config_path = os.path.join(workdir, "broken.yaml")
    if raw is None:
        config_path = os.path.join(workdir, "does_not_exist.yaml")
    else:
        if isinstance(raw, dict):
            raw = dict(raw)
            if isinstance(raw.get("Global"), dict):
                raw["Global"] = dict(raw["Global"], output_dir=raw["Global"].get("output_dir", run_dir))
            raw = yaml.safe_dump(raw)
        with open(config_path, "w", encoding="utf-8") as fh:
            fh.write(raw)
    argv = [command, "-c", config_path]
    for o in overrides:
        argv += ["-o", o.replace("{REGULAR_FILE}", regular_file)]
    extra = [a.replace("{REGULAR_FILE}", regular_file) for a in extra]
    if command == "lr-plot" and "--out" not in extra:
        extra += ["--out", os.path.join(run_dir, "lr.png")]  # must not appear: the config is broken
    if command in ("check", "lr-plot"):
        extra += ["--steps-per-epoch", "4"]  # no data needed: only the config is judged
    return argv + extra, key


def assert_clean_failure(code, stderr, key):
    lines = stderr.strip().splitlines()
    assert code == 2, (code, stderr)
    assert lines and all(line.startswith("error: ") for line in lines), stderr
    assert "Traceback" not in stderr
    naming = [line for line in lines if key in line]
    assert naming, f"no error line names {key!r}:\n{stderr}"
    assert any(HINT.search(line) for line in naming), f"no line says what is allowed:\n{stderr}"


@pytest.mark.parametrize("command", ["train", "check", "lr-plot"])
def test_generated_broken_configs_end_with_exit_2_and_one_clear_line(command, earlier_run, tmp_path, snapshot):
    run_dir, regular_file = str(earlier_run / "run"), str(earlier_run / "a_file")
    before = snapshot(earlier_run)
    seen = []

    @settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=breakages(command))
    def check_one(case):
        argv, key = build_argv(command, case, str(tmp_path), run_dir, regular_file)
        code, stderr = run_cli(argv)
        assert_clean_failure(code, stderr, key)
        assert snapshot(earlier_run) == before, "a failing command changed an earlier run's files"
        seen.append(key)

    check_one()
    assert len(seen) >= EXAMPLES // 3


@pytest.mark.parametrize("command,override,key", [
    ("train", "Optimizer.learning_rate=fast", "Optimizer.learning_rate"),
    ("check", "LRScheduler.name=Cosine", "LRScheduler.name"),
    ("lr-plot", "Global.epochs=0", "Global.epochs"),
])
def test_a_real_process_prints_no_traceback(command, override, key, earlier_run, tmp_path, snapshot):
    argv, _ = build_argv(command, (BASE, [override], [], key), str(tmp_path), str(earlier_run / "run"),
                         str(earlier_run / "a_file"))
    before = snapshot(earlier_run)
    proc = subprocess.run([sys.executable, "-m", "paddle_optim"] + argv, capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path))
    assert_clean_failure(proc.returncode, proc.stderr, key)
    assert snapshot(earlier_run) == before


# --- safe loading -------------------------------------------------------------------------------------

def test_yaml_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    text = yaml.safe_dump(BASE) + f"Extra: !!python/object/apply:os.system ['touch {marker}']\n"
    (tmp_path / "evil.yaml").write_text(text)
    for command in ("train", "check", "lr-plot"):
        out = ["--out", str(tmp_path / "lr.png")] if command == "lr-plot" else []
        code, stderr = run_cli([command, "-c", str(tmp_path / "evil.yaml")] + out)
        assert code == 2 and "malformed YAML" in stderr and not marker.exists(), stderr
    assert not (tmp_path / "lr.png").exists()


def test_override_values_are_data_never_code(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(BASE))
    payload = f"__import__('os').system('touch {marker}')"
    code, stderr = run_cli(["check", "-c", str(tmp_path / "c.yaml"), "-o", f"Optimizer.learning_rate={payload}"])
    assert code == 2 and "Optimizer.learning_rate: expected number" in stderr and not marker.exists(), stderr


@pytest.mark.parametrize("section,key", [("Optimizer", "name"), ("LRScheduler", "name"), ("Model", "name"),
                                         ("Data", "dataset.name")])
def test_only_an_explicit_module_colon_class_is_imported(section, key, tmp_path, monkeypatch):
    """A name without ``module:`` is never imported; the sentinel module records any import of itself."""
    (tmp_path / "rel_sentinel_mod.py").write_text("import os\nopen(os.environ['REL_SENTINEL'], 'a').write('imported')\n"
                                                  "class Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REL_SENTINEL", str(tmp_path / "imported.txt"))
    monkeypatch.delitem(sys.modules, "rel_sentinel_mod", raising=False)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(BASE))
    for name in ("rel_sentinel_mod", "rel_sentinel_mod.Net", "Net"):
        code, stderr = run_cli(["check", "-c", str(tmp_path / "c.yaml"), "-o", f"{section}.{key}={name}"])
        assert code == 2 and f"{section}.{key}" in stderr, stderr
        assert not (tmp_path / "imported.txt").exists(), f"{name} imported a module"
