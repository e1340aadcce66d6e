#!/usr/bin/env bash
# Fresh machine -> trained model: sets up .venv/paddle2.6 (Paddle 2.6.2 CPU, the Docker image's API)
# and trains configs/quickstart.yaml (the 8x8 digits shipped in the package, no download) on the CPU.
# Extra arguments go to `paddle-optim train`, e.g. -o Global.epochs=5. Run again, it starts a new run and moves
# the earlier one into output/quickstart/previous/ (--overwrite), unless you pass --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
ensure_env paddle2.6 . "paddlepaddle==2.6.2" "numpy<2"
case " $* " in
    *" --resume"*|*" --overwrite "*) ;;
    *) set -- --overwrite "$@" ;;
esac
exec "$ENV_PY" -m paddle_optim train -c configs/quickstart.yaml "$@"
