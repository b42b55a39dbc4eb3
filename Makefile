# Clawline: `make run` serves the whole bot on loopback, `make test` checks everything.
# Every install step lives here, so a fresh clone needs only Python 3.11 and make.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SEC_VENV := .venv-checkov
FT_VENV := .venv-finetune
SAST_PATHS := layers/engine/clawline functions local plugins
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help install tools security-tools browser run test lint typecheck unit functional iac package e2e bench security sast fault fuzz build deploy clean finetune test-finetune

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# Installs print one line per step (pip -q keeps each step to that line); the first install takes minutes.
$(BIN)/.installed: requirements/dev.txt layers/engine/requirements.txt functions/http/requirements.txt pyproject.toml
	@echo "[1/3] $(VENV): creating the project venv (the first install takes about 3 minutes)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	@echo "[2/3] $(VENV): installing the pinned requirements (requirements/dev.txt)"
	$(BIN)/pip install -q -r requirements/dev.txt
	@echo "[3/3] $(VENV): installing clawline (editable)"
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	@echo "$(SAM_VENV): installing the pinned SAM CLI (about a minute the first time)"
	$(PY) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements/sam.txt
	touch $@

$(SEC_VENV)/.installed: requirements/security.txt
	@echo "$(SEC_VENV): installing the pinned checkov and bandit (about a minute the first time)"
	$(PY) -m venv $(SEC_VENV)
	$(SEC_VENV)/bin/pip install -q --upgrade pip==25.3
	$(SEC_VENV)/bin/pip install -q -r requirements/security.txt
	touch $@

install: $(BIN)/.installed ## create the project venv (pinned)

# The console's browser test drives Debian's chromium through Playwright (executable_path): no browser download.
CHROMIUM ?= /usr/bin/chromium
browser: ## install Debian's chromium for the console's browser test (apt, as root) when it is missing
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make browser: $(CHROMIUM) is missing; run as root (apt-get install -y chromium)" >&2; exit 1; fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

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

e2e: install browser ## the local runtime driven by real clients (and the console in Chromium)
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

test: install tools browser ## everything CI runs (`make security` included: sast here, the JWT tests in pytest)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/engine/clawline functions local plugins
	$(MAKE) sast
	@# The fault test runs 300 turns here (~25 s); `make fault` runs the full 10,000.
	CLAWLINE_FAULT_TURNS=$${CLAWLINE_FAULT_TURNS:-300} $(BIN)/pytest

ARCH ?= arm64
BOT ?= bots/default
BUILD_DIR ?= .aws-sam/build
BOT_PATH = $(abspath $(BOT))
BOT_NAME = $(notdir $(BOT_PATH))
# --no-cached: SAM's cache is keyed by the layer's source folder, which does not change with BOT.
build: install tools ## package one bot: make build BOT=bots/mybot [ARCH=x86_64]; validates it, trains its NLU if stale
	@test -f "$(BOT_PATH)/bot.yaml" || { echo "make build: BOT=$(BOT) has no bot.yaml (clawline init $(BOT) makes one)" >&2; exit 1; }
	@echo "building bot $(BOT_NAME) ($(BOT_PATH)) for $(ARCH) into $(BUILD_DIR)"
	@# Validated here first to fail in a second; the bot layer's build validates again (for a plain `sam build`).
	PYTHONPATH=layers/engine $(BIN)/python -m clawline validate "$(BOT_PATH)"
	@# A bot that classifies gets the NLU layer (numpy); a rules-only bot's functions go without it.
	uses_nlu=$$(PYTHONPATH=layers/engine $(BIN)/python packaging/bot_uses_nlu.py "$(BOT_PATH)") && \
	echo "bot $(BOT_NAME) classifies: $$uses_nlu (BotUsesNlu)" && \
	CLAWLINE_ARCH=$(ARCH) CLAWLINE_BOT="$(BOT_PATH)" $(SAM_VENV)/bin/sam build --no-cached --build-dir "$(BUILD_DIR)" \
	  --parameter-overrides Arch=$(ARCH) BotName=$(BOT_NAME) BotUsesNlu=$$uses_nlu && \
	$(BIN)/python packaging/set_bot_parameter.py "$(BUILD_DIR)/template.yaml" "$(BOT_NAME)" "$$uses_nlu"
	@# Least privilege: exactly the IAM statements the bot's enabled plugins declare (docs/plugins.md).
	PYTHONPATH=layers/engine $(BIN)/python -m clawline plugins policy --bot "$(BOT_PATH)" --apply "$(BUILD_DIR)/template.yaml"

CONFIG_ENV ?= default
deploy: tools ## sam deploy --guided of the last build; CONFIG_ENV=prod picks samconfig.toml's prod profile
	@test -f "$(BUILD_DIR)/template.yaml" || { echo "make deploy: no build in $(BUILD_DIR); run make build BOT=... first" >&2; exit 1; }
	$(SAM_VENV)/bin/sam deploy --guided --template-file "$(BUILD_DIR)/template.yaml" --config-env $(CONFIG_ENV)

$(BIN)/.bench-installed: requirements/bench.txt $(BIN)/.installed
	$(BIN)/pip install -q --no-deps -r requirements/bench.txt
	touch $@

bench: install $(BIN)/.bench-installed ## benchmarks; results go to BENCHMARKS.md
	$(BIN)/python -m bench

# torch (CPU) never enters the project venv: fine-tuning runs in its own venv, as a child of `clawline train`.
$(FT_VENV)/.installed: requirements/finetune.txt requirements/bench.txt
	@echo "$(FT_VENV): installing the pinned torch (CPU), onnx and onnxruntime (about a minute the first time)"
	$(PY) -m venv $(FT_VENV)
	$(FT_VENV)/bin/pip install -q -r requirements/finetune.txt
	$(FT_VENV)/bin/pip install -q --no-deps -r requirements/bench.txt
	touch $@

finetune: $(FT_VENV)/.installed ## the fine-tune venv for bots with nlu_fine_tune (docs/nlu.md)

test-finetune: install finetune ## the fine-tune path on a tiny bot (minutes; not part of `make test`)
	CLAWLINE_FINETUNE_TESTS=1 PYTHONPATH=layers/engine $(BIN)/pytest -q tests/unit/nlu/test_fine_tuning.py

clean: ## remove venvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(SEC_VENV) $(FT_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
