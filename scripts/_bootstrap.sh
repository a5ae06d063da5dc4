# Sourced by scripts/start and scripts/test: finds Python >= 3.12, creates .venv with uv and
# installs the locked dependencies. Idempotent and quick when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

find_python() {
    local candidates=("${HUBCONSOLE_PYTHON:-}" python3.12 python3.13 python3.14 python3)
    # pyenv installs that are not the active global version are not reachable via shims.
    for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*; do
        [ -x "$dir/bin/python3" ] && candidates+=("$dir/bin/python3")
    done
    for candidate in "${candidates[@]}"; do
        [ -n "$candidate" ] || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            command -v "$candidate" 2>/dev/null || echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/uv ]; then
    PYTHON="$(find_python)" || { echo "HubConsole needs Python 3.12 or newer (set HUBCONSOLE_PYTHON)." >&2; exit 1; }
    echo "==> creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
.venv/bin/uv sync --frozen --quiet --python .venv/bin/python
export PATH="$ROOT/.venv/bin:$PATH"
