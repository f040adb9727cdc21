# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
BUILD_INPUTS := pyproject.toml constraints.txt setup.py $(sort $(wildcard src/leaktrace/*.c))
STAMP  := $(VENV)/.installed-$(shell cat $(BUILD_INPUTS) 2>/dev/null | sha256sum | cut -c1-12)

.PHONY: demo test lint typecheck unit bench clean install

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=python3)"; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) $(BUILD_INPUTS)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m leaktrace.demo --home demo-out/workspace --out demo-out

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict -p leaktrace

unit: $(STAMP)
	$(VENV)/bin/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(VENV)/bin/python bench/release_bench.py
	$(VENV)/bin/python bench/io_bench.py --rows 200000 --repeat 3
	$(VENV)/bin/python bench/ledger_growth.py --rows 200000 --releases 30 --report 1,10,20,30
	$(VENV)/bin/python bench/attacks.py --quick --reuse
	$(VENV)/bin/python bench/scam_eval.py
	$(VENV)/bin/python bench/collusion.py --trials 3
	$(VENV)/bin/python bench/attribution.py --orders 20000 --waves 10 --null-waves 200
	$(VENV)/bin/python bench/server_bench.py --orders 200000 --leak-rows 20000 --requests 2000

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
