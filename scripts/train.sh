#!/usr/bin/env bash
# Pick the launch line for the machine and train:
#   bash scripts/train.sh CONFIG [N] [-- extra train args]
# N processes (default: number of visible GPUs, or 1 on CPU). N > 1 uses paddle.distributed.launch
# (GPUs: one process per device; CPU: gloo), with its logs in $LAUNCH_LOG_DIR (default
# output/launch_log). Extra arguments go to `paddle-optim train`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"   # paths in the config stay relative to where you run this
PY=${PYTHON:-python}
config=${1:?usage: scripts/train.sh CONFIG [N] [-- train args]}
shift
gpus=$("$PY" -c 'import zlib, paddle; print(paddle.device.cuda.device_count() if paddle.device.is_compiled_with_cuda() else 0)' 2>/dev/null)
n=${gpus:-0}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then n=$1; shift; fi
[ "${1:-}" = "--" ] && shift
[ "$n" -lt 1 ] && n=1
log_dir=${LAUNCH_LOG_DIR:-output/launch_log}
if [ "$n" -eq 1 ]; then
    exec "$PY" -m paddle_optim train -c "$config" "$@"
fi
if [ "${gpus:-0}" -ge "$n" ]; then
    devices=$(seq -s, 0 $((n - 1)))
    exec "$PY" -m paddle.distributed.launch --devices "$devices" --log_dir "$log_dir" "$here/train.py" -c "$config" "$@"
fi
export PADDLE_DISTRI_BACKEND=${PADDLE_DISTRI_BACKEND:-gloo}
exec "$PY" -m paddle.distributed.launch --nproc_per_node "$n" --log_dir "$log_dir" "$here/train.py" -c "$config" "$@"
