# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format install migrate demo bench audit clean

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

migrate: install
	mkdir -p $${VAR_DIR:-var}
	$(PY) manage.py migrate --noinput -v0

demo: migrate
	$(PY) manage.py seed_demo

# Web, Celery worker and beat on the embedded defaults; Ctrl-C stops all three.
run: migrate
	bash bin/run-dev

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks (issues 6 and 13, docs/performance.md) on PostgreSQL and Redis: DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/aftercare_bench, dropped and re-created)
# and REDIS_URL (default redis://127.0.0.1:6379/13). Prints a table, writes bench/results.json.
# The full run includes the 1,000,000-plan figures (30-60 min on 2 cores); a quick one:
# BENCH_ARGS="--without-1m" make bench
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# Lighthouse 12.2.3 (audit/package.json, from the npm registry) with Debian's Chromium,
# mobile mode, on the client's Today, check-in, progress, plan and settings and the
# therapist's dashboard and client page, against a production-shaped server it starts and
# stops itself (DEBUG=0, gunicorn, whitenoise, demo data). Prints the scores and Today's
# bytes; AUDIT_ARGS=--strict fails when a page misses performance 95 / accessibility 100
# or Today's HTML+CSS+JS passes 50 KB; AUDIT_ARGS="--runs=3" takes each page's median run
# (scores move with the machine's load); --only=today,plan audits some pages.
CHROME_PATH ?= /usr/bin/chromium

audit: install
	npm ci --prefix audit --no-audit --no-fund --loglevel=error
	CHROME_PATH=$(CHROME_PATH) $(PY) audit/run.py $(AUDIT_ARGS)

clean:
	rm -rf var staticfiles .pytest_cache

# Mutation testing (issue 10, docs/testing.md): mutmut over the safety-critical pure modules
# (taper, schedule, safety, tokens, attention), each against its fast tests on SQLite with
# no services, in a copy of the last commit under var/mutation/. Not in CI; slow (20-30 min
# on 2 cores). MUTATION_ARGS="taper schedule" for some modules, --worktree for uncommitted
# files. Prints the score per module and the survivors; writes var/mutation/results.json.
.PHONY: mutation
MUTATION_STAMP := $(VENV)/.mutation-installed

$(MUTATION_STAMP): $(STAMP) mutation/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r mutation/requirements.txt
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(PY) mutation/run.py $(MUTATION_ARGS)
