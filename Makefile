# NusaTrade: `make demo` and `make test` work on a fresh machine with only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: demo test lint serve worker worker-trading worker-training worker-maintenance beat install \
	install-dev warm collectstatic bench clean chromium browser

$(VENV)/bin/activate:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "NusaTrade needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Installing also warms numba's kernel cache (var/numba-cache): the first backtest then loads
# machine code instead of compiling for 10-30 s. Once per install, never on every `make demo`.
$(VENV)/.runtime: requirements.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	$(PY) manage.py warm_kernels
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## warm: compile the numba backtest kernels into NUMBA_CACHE_DIR again (after a code update)
warm: $(VENV)/.runtime
	$(PY) manage.py warm_kernels

## collectstatic: gather admin/DRF static files into STATIC_ROOT for WhiteNoise (production)
collectstatic: $(VENV)/.runtime
	$(PY) manage.py collectstatic --noinput -v0

## demo: install, migrate the embedded database and run the whole plan end to end: data,
## models, the readiness verdict and the known-answer controls (under 10 min on 2 cores)
demo: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py demo

## test: ruff, then the whole test suite (real services when DATABASE_URL/REDIS_URL are set)
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

## chromium: Debian's chromium + driver for the browser tests (root or sudo; once)
chromium:
	command -v chromium >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" -eq 0 ]; then apt-get install -y chromium chromium-driver; \
	    else sudo apt-get install -y chromium chromium-driver; fi; }

## browser: the browser tests (real headless Chromium; screenshots in var/test-artifacts/)
browser: $(VENV)/.dev chromium
	$(VENV)/bin/pytest -m browser

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

serve: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py runserver 127.0.0.1:8000

worker: $(VENV)/.runtime
	$(VENV)/bin/celery -A nusatrade worker -Q celery,trading,training,maintenance -l info

## worker-trading / worker-training / worker-maintenance: one worker per queue (production
## layout, docs/auto-trading.md "Schedule and workers"); run exactly one beat next to them.
worker-trading: $(VENV)/.runtime
	$(VENV)/bin/celery -A nusatrade worker -Q trading -n trading@%h -c 2 -l info

worker-training: $(VENV)/.runtime
	$(VENV)/bin/celery -A nusatrade worker -Q training -n training@%h -c 1 -l info

worker-maintenance: $(VENV)/.runtime
	$(VENV)/bin/celery -A nusatrade worker -Q maintenance,celery -n maintenance@%h -c 1 -l info

beat: $(VENV)/.runtime
	$(VENV)/bin/celery -A nusatrade beat -l info

bench: $(VENV)/.dev
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) var
