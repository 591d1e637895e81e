# Two commands for a newcomer: `make run` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make
# Below the ephemeral range (32768-60999 on Linux), so no outgoing connection can be holding it.
PG_PORT ?= 25432
PG_DIR ?= /tmp/portal-pg-$(PG_PORT)
PG_URL := postgresql+psycopg://postgres@127.0.0.1:$(PG_PORT)/postgres
BENCH_RECIPIENTS ?= 20000
# SCALE=council (BENCH_RECIPIENTS over the personas' councils) or SCALE=national (130,000 recipients across 150
# more councils and about 30 providers, 70,000 PA profiles, about 20 million ledger rows: PostgreSQL, bench-postgres).
# A short national run: SCALE=national BENCH_RECIPIENTS_NATIONAL=600 (the same shape, profiles in proportion).
SCALE ?= council
BENCH_RECIPIENTS_NATIONAL ?= 130000
BENCH_SCALE_ARGS = --scale $(SCALE) --recipients $(if $(filter national,$(SCALE)),$(BENCH_RECIPIENTS_NATIONAL),$(BENCH_RECIPIENTS))
BENCH_IMPORT_ROWS ?= 1000000
PYTEST_WORKERS ?= 2
export PORTAL_ENV ?= development

# Debian packages: WeasyPrint's libraries and fonts (run), Chromium and pdftotext (browser tests),
# PostgreSQL (the production database, for the second test run). Tesseract reads register photos for
# contact details (a photo that cannot be checked is refused). ClamAV's daemon scans every upload.
RUN_PACKAGES := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation fonts-dejavu-core \
	tesseract-ocr tesseract-ocr-eng clamav-daemon
TEST_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils
PG_PACKAGES := postgresql

# Runs $(1) with a clamd of its own (a fresh folder per run, so parallel runs never share or stop one
# another's), VIRUS_SCANNER=clamd and CLAMD_SOCKET set; stops the daemon afterwards, keeping $(1)'s status.
define with_clamd
	@clamd_dir=$$(mktemp -d /tmp/portal-clamd.XXXXXX); \
	trap 'bash .ci/clamd.sh stop '"$$clamd_dir"'; rm -rf '"$$clamd_dir" EXIT; \
	bash .ci/clamd.sh start $$clamd_dir || exit 1; \
	export VIRUS_SCANNER=clamd CLAMD_SOCKET=$$clamd_dir/clamd.sock; \
	$(1)
endef

.PHONY: help run test test-fast test-browser test-postgres faults bench bench-payroll assets system-run system-test system-pg venv db clean

help:
	@echo "make run            set up and serve the demo on http://127.0.0.1:5000 (SQLite)"
	@echo "make test           set up and run the whole test suite (SQLite, browser journeys included)"
	@echo "make test-postgres  run the suite against a throwaway PostgreSQL on loopback"
	@echo "make faults         kill payment runs, card imports, pay runs, uploads and sign-offs at random; check nothing is lost"
	@echo "make bench          seed a scaled database and print page timings next to a bare-Flask yardstick"
	@echo "make bench-payroll  a draft pay run at scale, payslip PDFs and the render command's memory"
	@echo "make assets         rebuild static/ from the npm registry (GOV.UK Frontend, htmx)"

# Installs Debian packages when missing; says exactly what to run when we are not root.
define apt_ensure
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "These Debian packages are needed and this user cannot install them:"; \
	    echo "    sudo apt-get install -y $$missing"; \
	    echo "Run that, then run make again."; exit 1; \
	  fi; \
	fi
endef

system-run:
	$(call apt_ensure,$(RUN_PACKAGES))

system-test:
	$(call apt_ensure,$(TEST_PACKAGES))

system-pg:
	$(call apt_ensure,$(PG_PACKAGES))

$(STAMP)/venv: pyproject.toml constraints.txt
	@mkdir -p $(STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	@touch $@

venv: $(STAMP)/venv

db: venv
	$(BIN)/flask --app portal db upgrade
	$(BIN)/flask --app portal load-content
	$(BIN)/flask --app portal demo-data

run: system-run venv db
	$(call with_clamd,$(BIN)/flask --app portal run --host 127.0.0.1 --port 5000)

test: system-test venv
	$(BIN)/ruff check portal tests
	$(call with_clamd,PORTAL_ENV=test $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider $(PYTEST_ARGS))

# The suite without the browser journeys, against PostgreSQL started on loopback for this run.
test-postgres: system-test system-pg venv
	$(call with_clamd,bash .ci/postgres.sh start $(PG_DIR) $(PG_PORT) || exit 1; \
	  PORTAL_ENV=test DATABASE_URL=$(PG_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -m "not browser" $(PYTEST_ARGS); \
	  status=$$?; bash .ci/postgres.sh stop $(PG_DIR) $(PG_PORT); exit $$status)

# The fault suite (issue 8): FAULT_TRIALS kills per case (CI runs 5). FAULT_ARGS="--case upload --seed 7" to narrow or repeat.
FAULT_TRIALS ?= 50
faults: venv
	PORTAL_ENV=test $(BIN)/python -m tests.faults.run --trials $(FAULT_TRIALS) $(FAULT_ARGS)

bench: system-test venv
	PORTAL_ENV=development $(BIN)/python -m tests.benchmarks.run $(BENCH_SCALE_ARGS) $(BENCH_ARGS)
	PORTAL_ENV=development $(BIN)/python -m tests.benchmarks.import_bench --rows $(BENCH_IMPORT_ROWS)

# Payroll at scale (issue 7): a draft pay run for a provider of 5,000 cases, payslip PDFs, the render command.
# Short mode for CI: BENCH_PAYROLL_ARGS="--recipients 300".
bench-payroll: system-test venv
	PORTAL_ENV=development $(BIN)/python -m tests.benchmarks.payroll_bench $(BENCH_PAYROLL_ARGS)

bench-postgres: system-test system-pg venv
	@bash .ci/postgres.sh start $(PG_DIR) $(PG_PORT)
	PORTAL_ENV=development DATABASE_URL=$(PG_URL) $(BIN)/python -m tests.benchmarks.run $(BENCH_SCALE_ARGS) $(BENCH_ARGS) && \
	  PORTAL_ENV=development DATABASE_URL=$(PG_URL) $(BIN)/python -m tests.benchmarks.import_bench --rows $(BENCH_IMPORT_ROWS); \
	  status=$$?; bash .ci/postgres.sh stop $(PG_DIR) $(PG_PORT); exit $$status

# The load test (issue 8): the personas' journeys under wrk (loopback, bounded in connections and time), then
# the ledger and timesheet invariants. The real run: 20,000 recipients, 50 to 200 connections, 5 minutes.
# Short mode for CI: LOAD_RECIPIENTS=300 LOAD_ARGS="--connections 20 --duration 15".
LOAD_RECIPIENTS ?= 20000
LOAD_PACKAGES := $(TEST_PACKAGES) wrk
.PHONY: load load-postgres system-load
system-load:
	$(call apt_ensure,$(LOAD_PACKAGES))

load: system-load venv
	PORTAL_ENV=development $(BIN)/python -m tests.load.run --recipients $(LOAD_RECIPIENTS) $(LOAD_ARGS)

load-postgres: system-load system-pg venv
	@bash .ci/postgres.sh start $(PG_DIR) $(PG_PORT)
	PORTAL_ENV=development PG_DATA=$(PG_DIR) DATABASE_URL=$(PG_URL) $(BIN)/python -m tests.load.run --recipients $(LOAD_RECIPIENTS) $(LOAD_ARGS); \
	  status=$$?; bash .ci/postgres.sh stop $(PG_DIR) $(PG_PORT); exit $$status

# Rebuild the committed front-end assets from the npm registry (versions pinned in package.json).
assets:
	npm ci --no-audit --no-fund
	npx sass --no-source-map --style=compressed --load-path=node_modules static/src/portal.scss static/dist/portal.css
	rm -rf static/govuk && mkdir -p static/govuk static/vendor
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js node_modules/govuk-frontend/LICENSE.txt static/govuk/
	cp -r node_modules/govuk-frontend/dist/govuk/assets static/govuk/assets && rm -rf static/govuk/assets/fonts
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/ && cp node_modules/htmx.org/LICENSE static/vendor/htmx.LICENSE

clean:
	rm -rf $(VENV) $(STAMP) instance
