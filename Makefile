# One command per chore, the same locally and in CI. Each installs what it needs.
.PHONY: up down test lint status reset help bench faults

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

up:  ## Install what is missing, start the stack and the platform
	@scripts/up.sh

test:  ## Start the stack if needed, then lint, type-check and run every test
	@scripts/test.sh $(ARGS)

down:  ## Stop everything `make up` started
	@if [ -x .venv/bin/studyhub ]; then .venv/bin/studyhub stack down; fi

status:  ## Health, port, pid, version and memory of every service
	@.venv/bin/studyhub stack status

lint:  ## ruff, mypy (strict) and the import-linter layer contracts
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy . && .venv/bin/lint-imports

reset:  ## Stop everything and delete all local data
	@.venv/bin/studyhub stack reset

PROFILE ?= quick
bench:  ## Benchmark against the running stack (make up first); PROFILE=quick|full
	@.venv/bin/python -m bench.peers.centrifugo --install
	@.venv/bin/python -m bench.run --profile $(PROFILE) $(ARGS)

faults:  ## Kill each service under steady chat, restart it, check nothing acked is lost; ARGS=--short
	@.venv/bin/python -m bench.faults $(ARGS)
