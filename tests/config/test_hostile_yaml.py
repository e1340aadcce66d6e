"""Hostile YAML through every command that reads a config: each is one ``error:`` line, exit 2, a bounded
message, bounded memory, and nothing written.

The table runs in ONE subprocess (``hostile_worker.py``) with its address space capped at
:data:`MEMORY_LIMIT`: a regression that expands an alias bomb fails there (MemoryError) instead of
swapping the machine, and one Paddle import serves every case.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from configs import TINY_RUN, merge_config

HERE = os.path.dirname(os.path.abspath(__file__))
MEMORY_LIMIT = 3 * 2**30  # Paddle itself maps ~1.3 GB of address space; the bombs needed far more
COMMANDS = ("check", "train", "lr-plot", "compare")


def _bomb(levels: int = 9, indent: str = "  ") -> str:
    """A "billion laughs": level i is a list of 9 aliases of level i-1, so level 9 has 9**9 leaves."""
    lines = [f"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _base_text(out_dir: str) -> str:
    config = merge_config(TINY_RUN)
    config["Global"]["output_dir"] = out_dir
    return yaml.safe_dump(config)


def _without(text: str, section: str) -> str:
    config = yaml.safe_load(text)
    config.pop(section)
    return yaml.safe_dump(config)


# compare takes the grid's learning rates from Optimizer.learning_rate and checks them first
LR_ZERO = {"compare": "learning rates must be finite and > 0, got 0"}
LR_ZERO.update(dict.fromkeys(("check", "train", "lr-plot"), "Optimizer.learning_rate: 0.0 is out of range; allowed: > 0"))

# name -> (the config text from the base text, the fragment the one error line must contain, or a
# fragment per command)
FILES = {
    "alias_bomb": (lambda base: _without(base, "Model") + "Model:\n  name: mlp\n" + _bomb(),
                   "aliases expand the document to more than 100000 nodes"),
    "recursive_alias": (lambda base: _without(base, "Model") + "Model: &m {name: mlp, again: *m}\n",
                        "recursive alias"),
    "nested_through_aliases": (lambda base: _without(base, "Model") + "Model:\n  name: mlp\n" + "".join(
        f"  d{i}: &d{i} " + "[" * 60 + (f"*d{i - 1}" if i else "0") + "]" * 60 + "\n" for i in range(3)),
        "aliases nest the values deeper than 100 levels"),
    "nested_brackets": (lambda base: _without(base, "Model") + "Model: {name: mlp, hidden_sizes: "
                        + "[" * 5000 + "]" * 5000 + "}\n", "brackets nested deeper than 100 levels"),
    "nested_braces": (lambda base: _without(base, "Model") + "Model: {name: mlp, x: "
                      + "{a: " * 5000 + "1" + "}" * 5000 + "}\n", "nested deeper than 100 levels"),
    "nested_blocks": (lambda base: _without(base, "Model") + "Model:\n  name: mlp\n  x:\n"
                      + "".join(" " * (2 * i + 4) + "a:\n" for i in range(150)) + " " * 304 + "b: 1\n",
                      "Model.x.a...a.a.a: nested deeper than 100 levels"),
    "integer_5000_digits": (lambda base: base.replace("epochs: 2", "epochs: " + "7" * 5000),
                            "Global.epochs: an integer of 5000 digits; allowed: at most 100 digits"),
    "hexadecimal_5000_digits": (lambda base: base.replace("epochs: 2", "epochs: 0x" + "f" * 5000),
                                "Global.epochs: an integer of 5002 digits"),
    "duplicate_section": (lambda base: base + "Optimizer: {name: SGD, learning_rate: 0.1}\n",
                          "duplicate key 'Optimizer' (first at line"),
    "duplicate_key": (lambda base: base.replace("  name: Momentum\n", "  name: Momentum\n  name: Adam\n"),
                      "duplicate key 'Optimizer.name'"),
    "file_over_10_MB": (lambda base: base + "# " + "x" * (10 * 2**20) + "\n", "larger than 10 MB"),
    "huge_unknown_name": (lambda base: base.replace("name: mlp", "name: " + "Q" * 200_000),
                          "characters omitted"),
    "learning_rate_0": (lambda base: base.replace("learning_rate: 0.1", "learning_rate: 0"), LR_ZERO),
    "learning_rate_underflow": (lambda base: base.replace("learning_rate: 0.1", "learning_rate: 1.0e-400"), LR_ZERO),
}

# name -> (the -o override on the valid base, the fragment)
OVERRIDES = {
    "o_nested_brackets": ("Model.hidden_sizes=" + "[" * 5000 + "]" * 5000,
                          "override Model.hidden_sizes: brackets nested deeper than 100 levels"),
    "o_integer_5000_digits": ("Global.epochs=" + "9" * 5000, "override Global.epochs: an integer of 5000 digits"),
    "o_alias_bomb": ("Model.x={" + ", ".join(
        [f"l0: &l0 [{', '.join(['lol'] * 9)}]"] + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)])
        + "}", "aliases expand"),
    "o_duplicate_key": ("Optimizer={name: SGD, name: Adam, learning_rate: 0.1}", "duplicate key 'name'"),
    "o_learning_rate_0": ("Optimizer.learning_rate=0", LR_ZERO),
}


def _argv(command, config, out_dir, override=None):
    argv = [command, "-c", config] + (["-o", override] if override else [])
    if command == "lr-plot":
        argv += ["--out", os.path.join(out_dir, "lr.png"), "--steps-per-epoch", "4"]
    if command == "check":
        argv += ["--steps-per-epoch", "4"]
    if command == "compare":
        argv += ["--optimizers", "SGD", "--out", os.path.join(out_dir, "compare")]
    return argv


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case through every command: name -> (result, fragment, output dir)."""
    tmp = tmp_path_factory.mktemp("hostile")
    cases, expected = [], {}
    valid = tmp / "valid.yaml"
    valid.write_text(_base_text(str(tmp / "out_valid")))
    for name, (make, fragment) in FILES.items():
        out_dir = str(tmp / f"out_{name}")
        path = tmp / f"{name}.yaml"
        path.write_text(make(_base_text(out_dir)))
        for command in COMMANDS:
            cases.append({"name": f"{command}:{name}", "argv": _argv(command, str(path), out_dir)})
            expected[f"{command}:{name}"] = (fragment, out_dir)
    for name, (override, fragment) in OVERRIDES.items():
        for command in COMMANDS:
            cases.append({"name": f"{command}:{name}", "argv": _argv(command, str(valid), str(tmp / "out_valid"), override)})
            expected[f"{command}:{name}"] = (fragment, str(tmp / "out_valid"))
    cases_path = tmp / "cases.json"
    cases_path.write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "hostile_worker.py"), str(MEMORY_LIMIT), str(cases_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["name"]: (r, *expected[r["name"]]) for r in json.loads(proc.stdout.splitlines()[-1])}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", list(FILES) + list(OVERRIDES))
def test_hostile_input_is_one_bounded_error_line(results, command, name):
    result, fragment, out_dir = results[f"{command}:{name}"]
    assert "raised" not in result, result["raised"]
    lines = result["stderr"].splitlines()
    assert result["code"] == 2, result["stderr"][-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]
    assert result["stderr_chars"] < 1024
    fragment = fragment[command] if isinstance(fragment, dict) else fragment
    assert fragment in lines[0], lines[0]
    assert not os.path.exists(out_dir)  # nothing written: no run directory, no lr.png, no compare output


def test_aliases_within_the_budget_and_merge_keys_still_load(tmp_path):
    from paddle_optim.config import load_yaml_file

    path = tmp_path / "anchors.yaml"
    path.write_text("base: &b {name: Momentum, learning_rate: 0.1}\nOptimizer: {<<: *b, momentum: 0.9}\n"
                    "widths: &w [16, 16]\nModel: {name: mlp, hidden_sizes: *w}\n")
    config = load_yaml_file(str(path))
    assert config["Optimizer"] == {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9}
    assert config["Model"]["hidden_sizes"] == [16, 16]


def test_a_schedule_that_ends_at_zero_is_still_valid(tmp_path):
    """Only the base rate must be > 0: a cosine to eta_min 0 (or a warmup from 0) is a normal schedule."""
    from paddle_optim.cli import main

    config = merge_config(TINY_RUN, {"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.0,
                                                     "warmup": {"steps": 2, "start_lr": 0.0}}})
    path = tmp_path / "zero_end.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["check", "-c", str(path), "--steps-per-epoch", "4"]) == 0
