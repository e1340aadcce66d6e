"""The README is tested like code.

From README.md's fenced blocks:

* every ```yaml block must parse; every one that is a training config (a top-level key naming a config
  section: ``Global``, ``Optimizer``, ``LRScheduler``, ...) must pass ``python -m paddle_optim check``
  in a subprocess with exit code 0;
* every ``paddle-optim ...`` / ``python -m paddle_optim ...`` command in a ```bash/```sh/```shell/
  ```console block must parse with ``paddle_optim.cli.build_parser()``, and when its ``-c`` names a
  config of this repository, that config with the command's ``-o`` overrides must pass ``check``.

Commands are found after line continuations are joined, comments dropped and lines split at ``&&``,
``||``, ``;`` and ``|``; leading ``VAR=value`` assignments are skipped, heredoc bodies are not commands,
``$ `` prompts mark the commands of a console block, and ``docker run ... paddle-optim[:tag] ARGS``
passes ARGS to the image's entry point, ``paddle-optim`` (unless ``--entrypoint`` names another
program; no ARGS: the Dockerfile's ``CMD``).
"""
import argparse
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest
import yaml

from paddle_optim.cli import build_parser
from paddle_optim.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL_LANGS = {"bash", "sh", "shell", "console"}
YAML_LANGS = {"yaml", "yml"}
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}
REDIRECTIONS = {">", ">>", "<", "<<", "<<<", ">&", "&>", "<&", ">|"}
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
CHECK_TIMEOUT = 300


class Block(NamedTuple):
    lang: str
    line: int  # README line of the block's first content line
    text: str


class Command(NamedTuple):
    line: int
    argv: List[str]


def fenced_blocks(markdown: str) -> List[Block]:
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(markdown.splitlines(), 1):
        fence = re.match(r"\s*```(\S*)", line)
        if fence and lang is None:
            lang, start, body = fence.group(1).lower(), number + 1, []
        elif fence:
            blocks.append(Block(lang, start, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def _logical_lines(block: Block):
    """(README line, text) per shell line: continuations joined, heredoc bodies and console output left out."""
    pending, first, heredoc_end = "", None, None
    for number, line in enumerate(block.text.splitlines(), block.line):
        if heredoc_end is not None:
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        if block.lang == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        first = number if first is None else first
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = pending + line, ""
        marker = HEREDOC.search(text)
        heredoc_end = marker.group(2) if marker else None
        yield first, text
        first = None


def _split_commands(text: str) -> List[List[str]]:
    # File-descriptor numbers of redirections (the 2 of 2>&1) are not words of the command.
    text = re.sub(r"(?<!\S)\d+(?=[<>])", "", text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current, skip_next = [], [], False
    for token in lexer:
        if skip_next:  # the target of a redirection
            skip_next = False
        elif token in SEPARATORS:
            commands.append(current)
            current = []
        elif token in REDIRECTIONS:
            skip_next = True
        else:
            current.append(token)
    commands.append(current)
    return [command for command in commands if command]


def paddle_optim_args(argv: List[str]) -> Optional[List[str]]:
    """The arguments given to paddle-optim by one shell command, or None if it does not run paddle-optim."""
    while argv and ASSIGNMENT.match(argv[0]):
        argv = argv[1:]
    if not argv:
        return None
    program = os.path.basename(argv[0])
    if program == "paddle-optim":
        return argv[1:]
    if program.startswith("python") or argv[0].startswith("$"):
        if "-m" in argv and argv.index("-m") + 1 < len(argv) and argv[argv.index("-m") + 1] == "paddle_optim":
            return argv[argv.index("-m") + 2:]
        return None
    if argv[:2] == ["docker", "run"]:
        if any(word == "--entrypoint" or word.startswith("--entrypoint=") for word in argv):
            return None  # the image runs another program
        images = [i for i, word in enumerate(argv) if word == "paddle-optim" or word.startswith("paddle-optim:")]
        if not images:
            return None
        return argv[images[0] + 1:] or image_default_command()  # no arguments: the image's CMD
    return None


def image_default_command() -> List[str]:
    """The Dockerfile's ``CMD ["...", ...]``: what ``docker run paddle-optim`` without arguments runs."""
    command = re.search(r"^CMD (\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return json.loads(command.group(1))


def shell_commands(blocks: List[Block]) -> List[Command]:
    found = []
    for block in blocks:
        if block.lang in SHELL_LANGS:
            for line, text in _logical_lines(block):
                found.extend(Command(line, argv) for argv in _split_commands(text))
    return found


def parse(args: List[str]) -> Tuple[Optional[argparse.Namespace], Optional[str]]:
    """``paddle-optim ARGS`` through the real parser: (namespace, None); (None, None) for ``--help``;
    (None, argparse's complaint) when they do not parse."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(args), None
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            return None, stderr.getvalue().strip().splitlines()[-1]
    return None, None


def _is_training_config(document) -> bool:
    return isinstance(document, dict) and any(key in SECTIONS for key in document)


# One Python process checks every config in turn (Paddle is imported once, not once per config);
# each check is the CLI's own main() with its exit code and printed output.
BATCH_CHECK = """
import contextlib, io, json, sys
from paddle_optim.cli import main
results = []
for config, overrides in json.loads(sys.argv[1]):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            code = main(["check", "-c", config] + [arg for o in overrides for arg in ("-o", o)])
        except SystemExit as exit_:
            code = exit_.code
    results.append([code, printed.getvalue()])
print(json.dumps(results))
"""


def _image_folder_overrides(config: str, folders: List[str]) -> Tuple[str, ...]:
    """A ``folder`` config names directories its README lines tell the user to make (``python -m
    paddle_optim.data.digits_folder DIR``): checked with them made once, in a temporary directory."""
    document = yaml.safe_load((ROOT / config).read_text())
    dataset = ((document or {}).get("Data") or {}).get("dataset") or {}
    if dataset.get("name") != "folder":
        return ()
    if not folders:
        import tempfile

        from paddle_optim.data.digits_folder import write_digits_folder

        folders.append(tempfile.mkdtemp(prefix="readme_digits_png_"))
        write_digits_folder(folders[0])
    return (f"Data.dataset.train_dir={folders[0]}/train", f"Data.dataset.val_dir={folders[0]}/val")


_FOLDERS: List[str] = []


def check_all(jobs: Dict[str, Tuple[str, Tuple[str, ...]]]) -> List[str]:
    """``paddle-optim check -c CONFIG -o ...`` for every {where: (CONFIG, overrides)}, in one subprocess;
    one message per config that does not exit 0."""
    if not jobs:
        return []
    jobs = {where: (config, _image_folder_overrides(config, _FOLDERS) + tuple(overrides))
            for where, (config, overrides) in jobs.items()}
    proc = subprocess.run([sys.executable, "-c", BATCH_CHECK, json.dumps(list(jobs.values()))],
                          capture_output=True, text=True, timeout=CHECK_TIMEOUT, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return [f"{where}: paddle-optim check exited {code}:\n{printed}"
            for where, (code, printed) in zip(jobs, results) if code != 0]


# ---------------------------------------------------------------- the extractor itself

EXAMPLE = """\
Some prose with `paddle-optim train` inline (not a block).

```bash
# a comment line
bash scripts/quickstart.sh   # trailing comment
CONFIG=configs/a.yaml paddle-optim train -c "configs/my run.yaml" \\
    -o Global.epochs=5 \\
    -o Optimizer.name=Ranger && paddle-optim lr-plot -c x.yaml --out lr.png 2>&1 | tee log.txt
cat > my.yaml <<'EOF'
paddle-optim this-is-heredoc-text
EOF
.venv/paddle2.6/bin/python -m paddle_optim check -c my.yaml; python3 -m paddle.distributed.launch scripts/train.py
docker build -t paddle-optim . && docker run --rm --gpus all -v "$PWD/output:/workspace/output" paddle-optim check -c a.yaml
docker run --rm paddle-optim:latest
"$ENV_PY" -m paddle_optim compare -c b.yaml --seeds 2
docker run --rm --entrypoint python paddle-optim -m paddle.distributed.launch scripts/train.py -c a.yaml
```

```console
$ paddle-optim --help
usage: paddle-optim [-h] COMMAND ...
```

```yaml
Optimizer:
  name: Ranger
```
"""


def test_extractor_finds_every_paddle_optim_command():
    blocks = fenced_blocks(EXAMPLE)
    assert [(b.lang, b.line) for b in blocks] == [("bash", 4), ("console", 20), ("yaml", 25)]
    found = [(c.line, paddle_optim_args(c.argv)) for c in shell_commands(blocks)]
    assert [item for item in found if item[1] is not None] == [
        (6, ["train", "-c", "configs/my run.yaml", "-o", "Global.epochs=5", "-o", "Optimizer.name=Ranger"]),
        (6, ["lr-plot", "-c", "x.yaml", "--out", "lr.png"]),
        (12, ["check", "-c", "my.yaml"]),
        (13, ["check", "-c", "a.yaml"]),
        (14, ["train", "-c", "configs/quickstart.yaml"]),
        (15, ["compare", "-c", "b.yaml", "--seeds", "2"]),
        (20, ["--help"]),
    ]
    assert _is_training_config(yaml.safe_load(blocks[2].text))


@pytest.mark.parametrize("args, config, complaint", [
    (["train", "-c", "a.yaml", "-o", "Global.epochs=2"], "a.yaml", None),
    (["--help"], None, None),
    (["train"], None, "the following arguments are required: -c/--config"),
    (["trian", "-c", "a.yaml"], None, "invalid choice: 'trian'"),
    (["compare", "-c", "a.yaml", "--seeds", "two"], None, "expected a whole number, got 'two'"),
])
def test_parse_returns_the_namespace_or_argparse_complaint(args, config, complaint):
    namespace, error = parse(args)
    assert getattr(namespace, "config", None) == config
    assert (error is None) if complaint is None else (complaint in error)


def test_check_all_reports_exactly_the_configs_check_rejects():
    failures = check_all({"good": ("configs/quickstart.yaml", ()),
                          "bad": ("configs/quickstart.yaml", ("AMP.dtype=float17",))})
    assert len(failures) == 1
    assert failures[0].startswith("bad: paddle-optim check exited 2") and "float17" in failures[0]


# ---------------------------------------------------------------- the README


def test_readme_commands_parse_and_pass_check_on_repository_configs():
    """Every command parses; one whose -c names a config of this repository must also pass ``check``
    with the same -o overrides (an override the config rejects is a README bug too)."""
    commands = [(c.line, paddle_optim_args(c.argv)) for c in shell_commands(fenced_blocks(README.read_text()))]
    commands = [(line, args) for line, args in commands if args is not None]
    assert commands, "the README shows no paddle-optim command"
    failures, jobs = [], {}
    for line, args in commands:
        namespace, error = parse(args)
        if error:
            failures.append(f"README.md:{line}: paddle-optim {shlex.join(args)}: {error}")
        elif namespace is not None and getattr(namespace, "config", None) and (ROOT / namespace.config).is_file():
            jobs.setdefault((namespace.config, tuple(namespace.override)), f"README.md:{line}")
    failures += check_all({where: job for job, where in jobs.items()})
    assert not failures, "\n".join(failures)


def suite_section_lines(markdown: str) -> range:
    """README lines of the suites section: its YAML is PaddleClas / PaddleOCR / ... config, not ours
    (tests/suites/test_readme_suites.py builds it through the adapters instead)."""
    lines = markdown.splitlines()
    begin, end = lines.index("<!-- BEGIN suites -->"), lines.index("<!-- END suites -->")
    return range(begin + 1, end + 1)


def test_readme_yaml_blocks_parse_and_configs_pass_check(tmp_path):
    configs, failures = {}, []
    suites = suite_section_lines(README.read_text())
    for block in fenced_blocks(README.read_text()):
        if block.lang not in YAML_LANGS:
            continue
        try:
            document = yaml.safe_load(block.text)
        except yaml.YAMLError as err:
            failures.append(f"README.md:{block.line}: not valid YAML: {err}")
            continue
        if _is_training_config(document) and block.line not in suites:
            path = tmp_path / f"readme_line_{block.line}.yaml"
            path.write_text(block.text)
            configs[f"README.md:{block.line}"] = (str(path), ())
    failures += check_all(configs)
    assert not failures, "\n".join(failures)
