"""GPU smoke test: what the CPU test suite cannot check, as one pass/fail table.

Run it inside the image on a GPU machine (``scripts/gpu_smoke.sh`` is the entry point)::

    docker run --rm --gpus all --entrypoint bash paddle-optim scripts/gpu_smoke.sh

Rows (the optimizers are RAdam, Ranger and Lookahead around native Momentum):

* ``cpu: <optimizer> fp32 training``: a small regression trains on the CPU (runs everywhere; it is the
  reference the GPU rows are read against, and what ``tests/docker`` runs without a GPU).
* ``cpu: trainer overrides of the GPU rows``: ``paddle-optim check`` accepts the config the trainer rows use.
* ``gpu: CUDA place``: tensors live on the GPU and a matmul agrees with numpy.
* ``gpu: <optimizer> kernels match CPU``: 20 steps from the same weights and gradients on GPU and CPU
  (float32, 1-D, 2-D and 4-D parameters: the fused/merged kernels and gradient centralisation) agree
  to 1e-5 relative (+ 1e-6 absolute).
* ``gpu: AMP <O1|O2> <float16|bfloat16> <optimizer>``: ``paddle.amp.auto_cast`` (+ ``paddle.amp.decorate``
  for O2, fp32 master weights) with ``paddle.amp.GradScaler`` trains: loss finite and at most half its
  start; under O2 the parameters really are low precision. bfloat16 needs compute capability >= 8.0.
* ``gpu: GradScaler found inf, <optimizer> holds``: a loss scale that overflows float16 must leave every
  parameter untouched.
* ``gpu: trainer quickstart AMP O1 float16``: ``paddle-optim train`` on the GPU, 2 epochs.
* ``2 GPUs: DataParallel Ranger, ranks identical`` and ``2 GPUs: paddle.distributed.launch scripts/train.py``
  (need two visible GPUs).

Without a GPU the GPU rows say ``SKIP (no GPU)``; ``--require-gpu`` turns that into FAIL (use it in the
container, where a missing ``--gpus`` flag should not pass). Exit code 0 when no row failed, else 1.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a zlib loaded after it)

import argparse
import shlex
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import paddle

from paddle_optim import Lookahead, RAdam, Ranger

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = "configs/quickstart.yaml"
# Two epochs: the quickstart's warmup takes the first one.
TRAINER_OVERRIDES = ["Global.epochs=2", "Global.device=gpu"]
AMP_OVERRIDES = ["AMP.enable=true", "AMP.level=O1", "AMP.dtype=float16"]
TRAINER_TIMEOUT = 900
STEPS = 20
KERNEL_RTOL, KERNEL_ATOL = 1e-5, 1e-6
PASS, FAIL = "PASS", "FAIL"

OPTIMIZERS: Dict[str, Callable] = {
    "RAdam": lambda params: RAdam(learning_rate=0.05, parameters=params),
    "Ranger": lambda params: Ranger(learning_rate=0.05, parameters=params),
    "Lookahead(Momentum)": lambda params: Lookahead(
        paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=params), alpha=0.5, k=5),
}


class Skip(Exception):
    """A row that cannot run on this machine; the message says why."""


class NoGPU(Skip):
    """No GPU visible at all: a skip, or a failure under --require-gpu."""


class Row(NamedTuple):
    name: str
    status: str  # PASS, FAIL or "SKIP (reason)"
    detail: str


# ---------------------------------------------------------------- what the rows run


def _regression(seed: int) -> Tuple[paddle.Tensor, paddle.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 32)).astype("float32")
    y = x @ rng.standard_normal((32, 1)).astype("float32")
    return paddle.to_tensor(x), paddle.to_tensor(y)


def _mlp() -> paddle.nn.Layer:
    paddle.seed(7)
    return paddle.nn.Sequential(paddle.nn.Linear(32, 64), paddle.nn.ReLU(), paddle.nn.Linear(64, 1))


def train_losses(optimizer: str, device: str, level: Optional[str] = None, dtype: str = "float16",
                 init_loss_scaling: float = 2.0 ** 10, steps: int = 60) -> Tuple[List[float], paddle.nn.Layer]:
    """Train the MLP on ``device``; with ``level`` under AMP and a GradScaler. Returns (losses, model)."""
    paddle.set_device(device)
    model = _mlp()
    opt = OPTIMIZERS[optimizer](model.parameters())
    if level == "O2":
        model, opt = paddle.amp.decorate(models=model, optimizers=opt, level="O2", dtype=dtype)
    scaler = paddle.amp.GradScaler(enable=level is not None, init_loss_scaling=init_loss_scaling)
    x, y = _regression(seed=0)
    losses = []
    for _ in range(steps):
        with paddle.amp.auto_cast(enable=level is not None, level=level or "O1", dtype=dtype):
            prediction = model(x)
        loss = paddle.nn.functional.mse_loss(prediction.astype("float32"), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.clear_grad()
        losses.append(float(loss))
    return losses, model


def _learned(losses: List[float]) -> str:
    if not np.all(np.isfinite(losses)):
        raise AssertionError(f"non-finite loss: {losses[-5:]}")
    if losses[-1] > 0.5 * losses[0]:
        raise AssertionError(f"loss {losses[0]:.4g} -> {losses[-1]:.4g}: not halved in {len(losses)} steps")
    return f"loss {losses[0]:.4g} -> {losses[-1]:.4g}"


def kernel_trajectory(optimizer: str, device: str) -> List[np.ndarray]:
    """Weights after STEPS steps on 0.5*||p - target||^2 (gradients exact on any device)."""
    paddle.set_device(device)
    rng = np.random.default_rng(3)
    shapes = [(64, 32), (32,), (8, 4, 3, 3)]
    params = [paddle.create_parameter(list(s), "float32", default_initializer=paddle.nn.initializer.Assign(
        rng.standard_normal(s).astype("float32"))) for s in shapes]
    targets = [paddle.to_tensor(rng.standard_normal(s).astype("float32")) for s in shapes]
    opt = OPTIMIZERS[optimizer](params)
    for _ in range(STEPS):
        loss = sum(0.5 * ((p - t) ** 2).sum() for p, t in zip(params, targets))
        loss.backward()
        opt.step()
        opt.clear_grad()
    return [p.numpy() for p in params]


def _run(argv: List[str], cwd: Path) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TRAINER_TIMEOUT)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise AssertionError(f"`{shlex.join(argv)}` exited {proc.returncode}:\n{tail}")
    return proc.stdout


def _override_args(overrides: List[str]) -> List[str]:
    return [arg for override in overrides for arg in ("-o", override)]


def ddp_worker(out_dir: Path) -> None:
    """One rank of the 2-GPU row: Ranger under DataParallel on rank-specific data; saves its weights."""
    paddle.distributed.init_parallel_env()
    rank = paddle.distributed.get_rank()
    model = paddle.DataParallel(_mlp())
    opt = OPTIMIZERS["Ranger"](model.parameters())
    x, y = _regression(seed=rank)  # different data per rank: only the all-reduce keeps them equal
    for _ in range(2 * 6 + 1):  # past two Lookahead synchronisations (k=6)
        paddle.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        opt.clear_grad()
    np.savez(out_dir / f"rank{rank}.npz", *[p.numpy() for p in model.parameters()])


def compare_ranks(out_dir: Path) -> str:
    ranks = [np.load(out_dir / f"rank{r}.npz") for r in (0, 1)]
    differing = [key for key in ranks[0].files if not np.array_equal(ranks[0][key], ranks[1][key])]
    if differing:
        raise AssertionError(f"weights differ between ranks: {differing}")
    return f"{len(ranks[0].files)} tensors bit-identical on both ranks"


# ---------------------------------------------------------------- the rows


def _gpu_count() -> int:
    return paddle.device.cuda.device_count() if paddle.is_compiled_with_cuda() else 0


def _needs_gpus(count: int) -> None:
    found = _gpu_count()
    if found == 0:
        raise NoGPU("no GPU")
    if found < count:
        raise Skip(f"needs {count} GPUs, found {found}")


def _needs_bf16(dtype: str) -> None:
    major, minor = paddle.device.cuda.get_device_capability()
    if dtype == "bfloat16" and major < 8:
        raise Skip(f"bfloat16 needs compute capability >= 8.0, this GPU has {major}.{minor}")


def check_cpu_training(optimizer: str) -> str:
    return _learned(train_losses(optimizer, "cpu")[0])


def check_trainer_overrides() -> str:
    overrides = TRAINER_OVERRIDES + AMP_OVERRIDES
    _run([sys.executable, "-m", "paddle_optim", "check", "-c", QUICKSTART] + _override_args(overrides), ROOT)
    return "paddle-optim check accepts " + " ".join(overrides)


def check_cuda_place() -> str:
    _needs_gpus(1)
    paddle.set_device("gpu:0")
    a = np.random.default_rng(0).standard_normal((128, 128)).astype("float32")
    t = paddle.to_tensor(a)
    if not t.place.is_gpu_place():
        raise AssertionError(f"tensor on {t.place}, expected a GPU place")
    error = float(np.abs(paddle.matmul(t, t).numpy() - a @ a).max())
    if error > 1e-3:
        raise AssertionError(f"GPU matmul differs from numpy by {error:.3g}")
    return f"{paddle.device.cuda.get_device_name()} (capability {paddle.device.cuda.get_device_capability()})"


def check_kernels_match_cpu(optimizer: str) -> str:
    _needs_gpus(1)
    gpu = kernel_trajectory(optimizer, "gpu:0")
    cpu = kernel_trajectory(optimizer, "cpu")
    worst = max(float(np.max(np.abs(g - c))) for g, c in zip(gpu, cpu))
    if not all(np.allclose(g, c, rtol=KERNEL_RTOL, atol=KERNEL_ATOL) for g, c in zip(gpu, cpu)):
        raise AssertionError(f"GPU and CPU weights differ by up to {worst:.3g} after {STEPS} steps "
                             f"(allowed {KERNEL_RTOL:g} relative + {KERNEL_ATOL:g})")
    return f"max difference {worst:.2g} after {STEPS} steps"


def check_amp(optimizer: str, level: str, dtype: str) -> str:
    _needs_gpus(1)
    _needs_bf16(dtype)
    losses, model = train_losses(optimizer, "gpu:0", level=level, dtype=dtype)
    detail = _learned(losses)
    if level == "O2":
        dtypes = {str(p.dtype) for p in model.parameters()}
        if not any(dtype in d for d in dtypes):
            raise AssertionError(f"O2 left the parameters in {dtypes}")
    return detail


def check_found_inf_holds(optimizer: str) -> str:
    _needs_gpus(1)
    before = [p.numpy() for p in train_losses(optimizer, "gpu:0", steps=0)[1].parameters()]
    # 2**60 times the loss overflows float16 in the backward pass: the scaler must skip the step.
    _, model = train_losses(optimizer, "gpu:0", level="O1", dtype="float16", init_loss_scaling=2.0 ** 60, steps=1)
    moved = [i for i, (p, b) in enumerate(zip(model.parameters(), before)) if not np.array_equal(p.numpy(), b)]
    if moved:
        raise AssertionError(f"parameters {moved} changed on a step whose gradients overflowed")
    return "no parameter moved on the overflowing step"


def check_trainer_on_gpu() -> str:
    _needs_gpus(1)
    with tempfile.TemporaryDirectory() as out:
        _run([sys.executable, "-m", "paddle_optim", "train", "-c", QUICKSTART]
             + _override_args(TRAINER_OVERRIDES + AMP_OVERRIDES + [f"Global.output_dir={out}"]), ROOT)
        if not (Path(out) / "metrics.json").exists():
            raise AssertionError("training finished without writing metrics.json")
    return "2 epochs, metrics.json written"


def check_ddp_ranks_identical() -> str:
    _needs_gpus(2)
    with tempfile.TemporaryDirectory() as out:
        _run([sys.executable, "-m", "paddle.distributed.launch", "--devices", "0,1", "--log_dir", f"{out}/log",
              str(Path(__file__).resolve()), "--ddp-worker", out], ROOT)
        return compare_ranks(Path(out))


def check_trainer_launch() -> str:
    _needs_gpus(2)
    with tempfile.TemporaryDirectory() as out:
        _run([sys.executable, "-m", "paddle.distributed.launch", "--devices", "0,1", "--log_dir", f"{out}/log",
              "scripts/train.py", "-c", QUICKSTART]
             + _override_args(TRAINER_OVERRIDES + [f"Global.output_dir={out}/run"]), ROOT)
    return "2 ranks, 2 epochs"


def all_checks() -> List[Tuple[str, Callable[[], str]]]:
    def bind(function, *args):
        return lambda: function(*args)

    checks = [(f"cpu: {name} fp32 training", bind(check_cpu_training, name)) for name in OPTIMIZERS]
    checks.append(("cpu: trainer overrides of the GPU rows", check_trainer_overrides))
    checks.append(("gpu: CUDA place", check_cuda_place))
    checks += [(f"gpu: {name} kernels match CPU", bind(check_kernels_match_cpu, name)) for name in OPTIMIZERS]
    checks += [(f"gpu: AMP {level} {dtype} {name}", bind(check_amp, name, level, dtype))
               for level in ("O1", "O2") for dtype in ("float16", "bfloat16") for name in OPTIMIZERS]
    checks += [(f"gpu: GradScaler found inf, {name} holds", bind(check_found_inf_holds, name))
               for name in OPTIMIZERS]
    checks.append(("gpu: trainer quickstart AMP O1 float16", check_trainer_on_gpu))
    checks.append(("2 GPUs: DataParallel Ranger, ranks identical", check_ddp_ranks_identical))
    checks.append(("2 GPUs: paddle.distributed.launch scripts/train.py", check_trainer_launch))
    return checks


def run_checks(checks, require_gpu: bool) -> Tuple[List[Row], List[str]]:
    """Every row runs; a failure is reported with its traceback, never hidden."""
    rows, tracebacks = [], []
    for name, check in checks:
        try:
            rows.append(Row(name, PASS, check()))
        except Skip as skip:
            if require_gpu and isinstance(skip, NoGPU):
                rows.append(Row(name, FAIL, f"{skip} (--require-gpu)"))
            else:
                rows.append(Row(name, f"SKIP ({skip})", ""))
        except Exception as err:  # noqa: BLE001  (reported as FAIL with the traceback below the table)
            rows.append(Row(name, FAIL, str(err).splitlines()[0] if str(err) else type(err).__name__))
            tracebacks.append(f"--- {name}\n{traceback.format_exc()}")
    return rows, tracebacks


def format_table(rows: List[Row], detail_width: int = 70) -> str:
    """One line per row; long details are cut (failures have their full text below the table)."""
    header = Row("check", "result", "detail")
    widths = [max(len(getattr(r, field)) for r in rows + [header]) for field in Row._fields[:2]]

    def line(row: Row) -> str:
        detail = row.detail if len(row.detail) <= detail_width else row.detail[:detail_width - 3] + "..."
        return f"{row.name:<{widths[0]}}  {row.status:<{widths[1]}}  {detail}".rstrip()

    lines = [line(row) for row in [header] + rows]
    lines.insert(1, "-" * (widths[0] + widths[1] + 4 + detail_width))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--require-gpu", action="store_true", help="a missing GPU is a failure, not a skip")
    parser.add_argument("--ddp-worker", type=Path, metavar="DIR",
                        help="internal: run one rank of the 2-GPU row and save its weights to DIR")
    args = parser.parse_args(argv)
    if args.ddp_worker:
        ddp_worker(args.ddp_worker)
        return 0
    print(f"paddle {paddle.__version__}, compiled with CUDA: {paddle.is_compiled_with_cuda()}, "
          f"visible GPUs: {_gpu_count()}")
    rows, tracebacks = run_checks(all_checks(), args.require_gpu)
    print(format_table(rows))
    for text in tracebacks:
        print(text, file=sys.stderr)
    failed = sum(row.status == FAIL for row in rows)
    passed = sum(row.status == PASS for row in rows)
    print(f"{passed} passed, {failed} failed, {len(rows) - passed - failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
