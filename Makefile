# Entry points. `make run` and `make test` set themselves up first (scripts/setup.sh).
PY := .venv/bin/python
STAMP := .venv/.installed
FILE ?= samples/receipt.png

.PHONY: setup run test samples clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt scripts/setup.sh
	@scripts/setup.sh
	@touch $@

## run: process FILE (default: the bundled sample) through the upload and status functions
run: $(STAMP)
	@$(PY) scripts/run_local.py $(FILE)

## test: the whole suite (starts the emulators itself)
test: $(STAMP)
	$(PY) -m pytest

## samples: regenerate the bundled synthetic receipts
samples: $(STAMP)
	$(PY) -m tools.receipts samples

clean:
	rm -rf var test-output .pytest_cache
