# Clawline: `make run` serves the whole bot on loopback, `make test` checks everything.
# Every install step lives here, so a fresh clone needs only Python 3.11 and make.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SEC_VENV := .venv-checkov
SAST_PATHS := layers/engine/clawline functions local plugins
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help install tools security-tools run test lint typecheck unit functional iac package e2e bench security sast fault fuzz build clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/dev.txt layers/engine/requirements.txt functions/http/requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PY) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements/sam.txt
	touch $@

$(SEC_VENV)/.installed: requirements/security.txt
	$(PY) -m venv $(SEC_VENV)
	$(SEC_VENV)/bin/pip install -q --upgrade pip==25.3
	$(SEC_VENV)/bin/pip install -q -r requirements/security.txt
	touch $@

install: $(BIN)/.installed ## create the project venv (pinned)

security-tools: $(SEC_VENV)/.installed ## create the checkov + bandit venv (checkov pins its own boto3)

tools: $(SAM_VENV)/.installed ## create the SAM CLI tools venv (kept apart: it pins its own boto3)

run: install ## run the whole bot locally (HTTP, WebSocket, MQTT) on 127.0.0.1; options: make run ARGS="--bot bots/x"
	$(BIN)/clawline dev $(ARGS)

lint: install ## ruff
	$(BIN)/ruff check .

typecheck: install ## mypy (strict on the engine)
	$(BIN)/mypy layers/engine/clawline functions local plugins

unit: install ## pure tests, no sockets
	$(BIN)/pytest -q tests/unit plugins

functional: install ## against loopback servers (moto DynamoDB)
	$(BIN)/pytest -q tests/functional

iac: install tools ## cfn-lint, sam validate --lint and the translated template
	$(BIN)/pytest -q tests/iac

package: install tools ## sam build, then every function in the Lambda Runtime Interface Emulator
	$(BIN)/pytest -q tests/package

e2e: install ## the local runtime driven by real clients
	$(BIN)/pytest -q tests/e2e

sast: security-tools ## bandit against its baseline, checkov with in-template justified skips only
	$(SEC_VENV)/bin/bandit -q -c .bandit -r $(SAST_PATHS) -ll -b .bandit-baseline.json
	$(SEC_VENV)/bin/checkov -f template.yaml --compact --quiet --skip-download

security: install sast ## SAST + IaC scan + the JWT attack tests
	$(BIN)/pytest -q tests/security/test_jwt.py

fault: install ## the 10,000-turn fault test (concurrent clients, duplicates in flight, 5% DynamoDB throttling, a slow plugin)
	CLAWLINE_FAULT_TURNS=10000 $(BIN)/pytest -q tests/security/test_fault_injection.py

fuzz: install ## atheris on the event parsers and the bot loader (bounded; the hypothesis mirror runs in `test`)
	POWERTOOLS_TRACE_DISABLED=1 $(BIN)/python -m tests.fuzz.atheris_parsers -max_total_time=60
	POWERTOOLS_TRACE_DISABLED=1 $(BIN)/python -m tests.fuzz.atheris_bot_loader -max_total_time=30

test: install tools ## everything CI runs (`make security` included: sast here, the JWT tests in pytest)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/engine/clawline functions local plugins
	$(MAKE) sast
	@# The fault test runs 300 turns here (~25 s); `make fault` runs the full 10,000.
	CLAWLINE_FAULT_TURNS=$${CLAWLINE_FAULT_TURNS:-300} $(BIN)/pytest

ARCH ?= arm64
build: tools ## sam build for ARCH (arm64, the default, or x86_64); see docs/deploy.md
	CLAWLINE_ARCH=$(ARCH) $(SAM_VENV)/bin/sam build --parameter-overrides Arch=$(ARCH)

$(BIN)/.bench-installed: requirements/bench.txt $(BIN)/.installed
	$(BIN)/pip install -q --no-deps -r requirements/bench.txt
	touch $@

bench: install $(BIN)/.bench-installed ## benchmarks; results go to BENCHMARKS.md
	$(BIN)/python -m bench

clean: ## remove venvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(SEC_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
