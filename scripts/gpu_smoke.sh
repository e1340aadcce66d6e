#!/usr/bin/env bash
# GPU smoke test: checks what the CPU test suite cannot (CUDA place, our optimizers' kernels on the GPU,
# AMP O1/O2 in float16 and bfloat16 with GradScaler, the trainer on a GPU, a 2-GPU launch) and prints a
# pass/fail table; exits non-zero if any row failed. Inside the image, on a GPU machine:
#   docker run --rm --gpus all --entrypoint bash paddle-optim scripts/gpu_smoke.sh --require-gpu
# Arguments go to scripts/gpu_smoke.py (--require-gpu: no visible GPU is a failure, not a skip).
# PYTHON selects the interpreter (default: python, the image's).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v nvidia-smi > /dev/null; then
    # Informational (driver and GPUs for a bug report); the rows below decide pass or fail.
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv || true
fi
exec "${PYTHON:-python}" scripts/gpu_smoke.py "$@"
