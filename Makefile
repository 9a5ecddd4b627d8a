# Tsunagu: the two commands of the README, and what they need.
#   make demo   set up and start web + Celery worker + beat on the embedded default, demo data
#   make test   set up and run the test suite (embedded SQLite by default; set DATABASE_URL,
#               CELERY_BROKER_URL and SECRET_KEY to run it on PostgreSQL and Redis). Uses the
#               test profile in TSUNAGU_TEST_PROFILE: dev (default: fewer generated examples in
#               the property-based tests) or ci (full strength, what .ci/run sets).
#   make test-all   the same suite at full strength (TSUNAGU_TEST_PROFILE=ci)
#   make lock   re-resolve requirements*.lock from pyproject.toml (see docs/operations.md)
#   make image-smoke  build the container image with buildah and smoke-test it (docs/containers.md)
#   make bench-smoke  every benchmark of bench/ at ~0.1 % size: they must run (docs/benchmarks.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-all lint typecheck messages clean-var lock image-smoke bench-smoke

# Every dependency, direct or not, at the version and hashes of the lock file: an update of
# any of them (a `holidays` release moves deadlines) happens only through `make lock`.
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Node tools for the tests only (axe-core for the accessibility checks); never served.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

messages: install
	@if ls locale/*/LC_MESSAGES/*.po >/dev/null 2>&1; then $(BIN)/python manage.py compilemessages -v0; fi

demo: install messages
	bin/demo

test: install messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: export TSUNAGU_TEST_PROFILE = ci
test-all: test

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

typecheck: install
	$(BIN)/mypy

clean-var:
	rm -rf var/

# Re-resolve both lock files (universal: every platform's markers, hashes of every file).
# uv is a dev dependency; `make lock UPGRADE=--upgrade` moves everything to the newest allowed,
# `make lock UPGRADE="--upgrade-package holidays"` moves one package.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --no-header --annotation-style line -q $(UPGRADE)
lock: install
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

# Build the image with buildah on a debootstrapped Debian base and smoke-test it.
image-smoke: install
	bin/image-smoke

# Every benchmark at about 0.1 % of its size on throwaway PostgreSQL databases (no timing asserted).
bench-smoke: install messages
	bin/bench-smoke
