# Shared by quickstart.sh and test.sh: create (once) and update a virtual environment for one
# Paddle line. Usage: ensure_env NAME TARGET [pip requirement...]; sets ENV_PY.
# TARGET is the editable install of this checkout: "." or ".[test]".
# The environments live in .venv/NAME inside the checkout (git-ignored).
ensure_env() {
    local name=$1 target=$2
    shift 2
    local venv=".venv/$name"
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target" "$@"
    ENV_PY="$venv/bin/python"
}
