#!/usr/bin/env bash
# `make up`: install what is missing, start the stack, apply migrations, create topics.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/studyhub stack up
