#!/usr/bin/env bash
# `make test`: everything CI checks. Starts the stack if it is not running (idempotent), runs the
# linters and the whole test suite against the real services, then (with no arguments) the
# short fault matrix. In CI (CI=true) it stops the stack afterwards; locally it leaves it
# running for the next run.
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
if [ "$#" -eq 0 ]; then
  # The whole suite also runs the fault matrix, short: each service SIGKILLed under steady chat
  # and restarted by `studyhub stack up`; anything acked lost, stored twice or undelivered
  # fails it (bench/faults.py, docs/faults.md). Last, because it kills the services.
  echo "== faults (short)"
  .venv/bin/python -m bench.faults --short
fi
echo "make test took $(( $(date +%s) - started ))s"
