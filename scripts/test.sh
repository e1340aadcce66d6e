#!/usr/bin/env bash
# Fresh machine -> whole test suite, under both supported Paddle lines and in the suites environment:
#   .venv/paddle2.6  paddlepaddle 2.6.2 + numpy 1.x (the API of the Docker image; primary)
#   .venv/paddle3    paddlepaddle 3.x
#   .venv/suites    paddlepaddle 2.6.2 + PaddleDetection 2.6.0 + PaddleSeg 2.8.0 from PyPI: tests/suites
#                   (real training jobs in the suites; their own requirements stay out of the two lines)
# torch 2.13 (CPU) is installed as an independent oracle for the optimizer parity tests.
# Extra arguments go to pytest (e.g. -k radam). Exits non-zero if any test fails in any environment.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
status=0
for line in "paddle2.6|paddlepaddle==2.6.2|numpy<2" "paddle3|paddlepaddle>=3.0,<4|numpy"; do
    IFS='|' read -r name paddle_spec numpy_spec <<<"$line"
    echo "=== $name: setting up"
    ensure_env "$name" ".[test]" "$paddle_spec" "$numpy_spec" "torch==2.13.0"
    echo "=== $name: $("$ENV_PY" -c 'import zlib, paddle; print("paddle", paddle.__version__)' 2>/dev/null)"
    "$ENV_PY" -m pytest "$@" || status=1
done
# The suites environment runs tests/suites only: skipped when the arguments name other test paths
# only, and a -k that selects nothing there (pytest exit 5) is not a failure.
suite_paths=() other_paths=0 options=()
for arg in "$@"; do
    case "$arg" in
        tests/suites*) suite_paths+=("$arg") ;;
        tests/*) other_paths=1 ;;
        *) options+=("$arg") ;;
    esac
done
if [ "$other_paths" = 1 ] && [ ${#suite_paths[@]} = 0 ]; then
    echo "=== suites: skipped (no tests/suites path among the arguments)"
else
    echo "=== suites: setting up"
    ensure_env suites ".[suites]" "paddlepaddle==2.6.2" "numpy<2"
    "$ENV_PY" -m pip install --quiet --disable-pip-version-check --no-deps "paddledet==2.6.0" "paddleseg==2.8.0"
    echo "=== suites: paddledet 2.6.0, paddleseg 2.8.0"
    rc=0
    PADDLE_OPTIM_SUITES_ENV=1 "$ENV_PY" -m pytest "${suite_paths[@]:-tests/suites}" "${options[@]}" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 5 ] || status=1
fi
exit $status
