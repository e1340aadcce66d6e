"""The Python examples of README.md's `optimizers` section run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _section_python_blocks():
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- BEGIN optimizers -->")[1].split("<!-- END optimizers -->")[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_section_has_examples():
    assert len(_section_python_blocks()) >= 4  # RAdam, Lookahead, Ranger, portable state


@pytest.mark.parametrize("index", range(len(_section_python_blocks())))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write checkpoints
    exec(compile(_section_python_blocks()[index], f"README optimizers example {index}", "exec"), {})
