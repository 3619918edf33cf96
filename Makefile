# Smart Library. Every target creates .venv/ on first use, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.DEFAULT_GOAL := help
.PHONY: help venv run test bench soak fuzz crash protos lint stack stack-stop secrets ingest-10k chat-eval clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@# The four import roots go on sys.path directly, so packages added later import without a reinstall.
	@printf '%s\n' $(addprefix $(CURDIR)/,core server clients handlers training) > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/smartlib-roots.pth"
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv/ and install the project into it

run: $(STAMP) ## Serve the catalog on 127.0.0.1:50051 (loads the starter catalog when empty)
	$(BIN)/smartlib serve --seed-starter

test: $(STAMP) ## Run the whole test suite (needs PostgreSQL and Redis on 127.0.0.1)
	$(BIN)/python -m pytest

bench: $(STAMP) ## Run the benchmarks (bench/, not installed); writes var/bench/ and prints a summary
	@# Bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set, every restart compiled ~160 modules (0.29 s of CPU).
	$(BIN)/python -m compileall -q core server clients handlers training bench > /dev/null
	PYTHONPATH=bench $(BIN)/python -m smartlib_bench

soak: $(STAMP) ## Mixed load for SOAK_SECONDS (default 600); reports RSS, threads and fds in var/bench/soak.json
	PYTHONPATH=bench $(BIN)/python -m smartlib_bench.soak

fuzz: $(STAMP) ## A longer Hypothesis run over every RPC (EXAMPLES=200)
	SMARTLIB_FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(BIN)/python -m pytest -q tests/integration/test_fuzz.py

crash: $(STAMP) ## A longer kill -9 run (ROUNDS=25)
	SMARTLIB_CRASH_ROUNDS=$(or $(ROUNDS),25) $(BIN)/python -m pytest -q tests/integration/test_crash_safety.py

protos: $(STAMP) ## Regenerate clients/smartlib/v1 from protos/
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=clients --pyi_out=clients \
		--grpc_python_out=clients protos/smartlib/v1/*.proto

stack: $(STAMP) ## Start TorchServe on 127.0.0.1 with the committed config (stop: make stack-stop)
	$(BIN)/python -m smartlib_server.adapters.torchserve_stack start

stack-stop: ## Stop the TorchServe started by make stack
	$(BIN)/python -m smartlib_server.adapters.torchserve_stack stop

secrets: $(STAMP) ## Generate docker/.env and docker/k8s/secrets.env (random tokens and passwords; kept if present)
	$(BIN)/python docker/secrets_files.py $(if $(DATABASE_URL),--database-url '$(DATABASE_URL)')

chat-eval: $(STAMP) ## The chat suite (bench/; ARGS="--home DIR --failures" for an ingested catalog), then the intent model's k-fold report
	PYTHONPATH=bench $(BIN)/python -m smartlib_bench.chat_suite $(ARGS)
	$(BIN)/smartlib chat-eval --intents

ingest-10k: $(STAMP) ## Load ../shared/data/goodreads_best_books_10k.csv (override with DATA=path)
	$(BIN)/smartlib ingest $(or $(DATA),../shared/data/goodreads_best_books_10k.csv)

lint: $(STAMP) ## ruff (settings in pyproject.toml), generated code in sync with the protos, and a byte-compile
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests/unit/test_protos_in_sync.py
	$(BIN)/python -m compileall -q server clients handlers training

clean: ## Remove the venv and local data
	rm -rf $(VENV) var
