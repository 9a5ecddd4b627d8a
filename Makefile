# Tsunagu: the two commands of the README, and what they need.
#   make demo   set up and start web + Celery worker + beat on the embedded default, demo data
#   make test   set up and run the test suite (embedded SQLite by default; set DATABASE_URL,
#               CELERY_BROKER_URL and SECRET_KEY to run it on PostgreSQL and Redis)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint typecheck messages clean-var

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
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

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

typecheck: install
	$(BIN)/mypy .

clean-var:
	rm -rf var/
