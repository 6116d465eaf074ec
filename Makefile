# Two entry points: `make run` (set up and start everything) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp changes whenever a requirements file changes, so installs rerun only when needed.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test venv lint migrate seed bench bench-payload bench-emulator bench-stream bench-sdk eval eval-redflags clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .

migrate: venv
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@bin/ensure-redis $(BIN)/python
	@$(BIN)/python manage.py run_banner
	@# Ctrl-C reaches honcho, which stops its processes; the trap keeps this shell alive long
	@# enough to also stop a Redis that ensure-redis started, so nothing is left running.
	@trap true INT TERM; PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile; \
	  status=$$?; bin/ensure-redis --stop; exit $$status

test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The red-flag suite (evals/redflags/): recall per category, false alarms, CPU per message.
eval-redflags: venv
	$(BIN)/python manage.py eval_redflags --check

bench-emulator: venv
	$(BIN)/python -m gemini_emulator.bench

# Offline: starts its own emulator on port 8799 for the run.
bench-payload: venv migrate
	@$(BIN)/python -m gemini_emulator --port 8799 & pid=$$!; sleep 1; \
	GEMINI_API_KEY= GEMINI_BASE_URL=http://127.0.0.1:8799 $(BIN)/python manage.py bench_payload; \
	status=$$?; kill $$pid; exit $$status

# Quality on the scenario cards in evals/cards (docs/benchmarks/quality.md). Offline: it starts its
# own emulator and a throwaway database; GEMINI_BASE_URL or GEMINI_API_KEY change the model.
# Other cards: make eval EVAL_ARGS="--cards path/to/cards --details".
eval: venv
	$(BIN)/python manage.py eval_intake $(EVAL_ARGS)

# PostgreSQL only, in a database of its own (created if missing). Starts its own emulator (1 s to the
# first byte, 100 ms per chunk) and uvicorn (1, then 2 workers). Override e.g.
# BENCH_ARGS="--n 1 100 --workers 1". Results: docs/benchmarks/stream.md.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/intake_bench
bench-stream: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_stream $(BENCH_ARGS)

# The SDK's per-event / per-request (un)marshalling, as shipped and with agents/client.py's cache.
bench-sdk: venv
	$(BIN)/python manage.py bench_sdk

clean:
	rm -rf $(VENV) var staticfiles
