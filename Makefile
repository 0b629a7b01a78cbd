# tlsinspect: two commands on a fresh machine.
#   make demo   set up and open the tool on a bundled capture
#   make test   set up and run the whole test suite (what CI runs)

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck imports pytest sysdeps venv conformance bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,live,tui]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests use (tcpdump and tshark as oracles and capture tools, openssl/curl as real peers).
sysdeps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for c in tshark tcpdump openssl curl; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark tcpdump openssl curl >/dev/null; \
	  fi; \
	else echo "sysdeps: not root or no apt-get; tests needing tshark/tcpdump will skip if they are missing"; fi

demo: $(STAMP)
	$(BIN)/tlsinspect read captures/observer-lab-dsb.pcapng --ca-file captures/observer-lab-ca.pem

lint: $(STAMP)
	$(BIN)/ruff check tlsinspect tests benchmarks scripts
	$(BIN)/ruff format --check tlsinspect tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest

check: lint typecheck imports pytest

test: $(STAMP) sysdeps check

conformance: $(STAMP)
	$(BIN)/python ../shared/tools/conformance.py --cmd $(BIN)/tlsinspect

bench: $(STAMP)
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
