#!/usr/bin/env bash
# `make test`: everything CI checks. Starts the stack if it is not running (idempotent), runs the
# linters and the whole test suite against the real services. In CI (CI=true) it stops the
# stack afterwards; locally it leaves it running for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/bootstrap.sh
.venv/bin/studyhub stack up
.venv/bin/studyhub stack install-browser
.venv/bin/python -m bench.peers.centrifugo --install  # the benchmark smoke's peer (go install)
if [ "${CI:-}" = "true" ]; then
  trap '.venv/bin/studyhub stack down || true' EXIT
fi
echo "== lint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/lint-imports  # the layer contracts in pyproject.toml
echo "== tests"
.venv/bin/pytest "$@"
echo "make test took $(( $(date +%s) - started ))s"
