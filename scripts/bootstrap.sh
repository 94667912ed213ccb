#!/usr/bin/env bash
# Installs the Python side: uv, the app venv (.venv) with the project and its dev tools, and a
# .env with fresh random secrets on first use. Idempotent and quick when nothing changed.
# The services themselves are installed by `studyhub stack up` (apt, Maven, go install).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: studyhub needs Python 3.11 ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  echo "fix: install python3.11 and rerun, or point PYTHON=/path/to/python3.11 at one." >&2
  exit 1
fi
if ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
  echo "bootstrap: installing uv (fast pip replacement) for $PYTHON"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check uv
fi
UV=("$PYTHON" -m uv)

if [ ! -x .venv/bin/python ]; then
  "${UV[@]}" venv --quiet --python "$PYTHON" .venv
fi
"${UV[@]}" pip install --quiet --python .venv/bin/python -e '.[dev,graph,dashboards]'

.venv/bin/studyhub stack init-env
