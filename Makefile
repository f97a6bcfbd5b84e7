# Entry points. `make run` and `make test` set themselves up first (scripts/setup.sh).
PY := .venv/bin/python
STAMP := .venv/.installed
FILE ?= samples/receipt.png
QUEUE ?= cloudtasks
PIX ?= none
STACK_DIR := var/stack
STACK ?=
RECEIPTS_DIR ?= $(wildcard ../shared/receipts/real)

.PHONY: setup run up down test test-fast lint accuracy bench reliability package samples clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt scripts/setup.sh
	@scripts/setup.sh
	@touch $@

## run: process FILE (default: the bundled sample) through the upload and status functions;
##      STACK=local sends it through the stack started by `make up` instead
run: $(STAMP)
	@$(PY) scripts/run_local.py $(FILE) $(if $(filter local,$(STACK)),--stack $(STACK_DIR))

## up: the full local stack (emulators, three functions, reconciler); QUEUE=rq for Redis + worker.py;
##     PIX=fake confirms each payment with a fake PSP (tools/fakepsp.py, docs/psp.md)
up: $(STAMP)
	@$(PY) -m tools.stack up --queue $(QUEUE) --pix $(PIX) --state-dir $(STACK_DIR)

## down: stop everything `make up` started
down:
	@$(PY) -m tools.stack down --state-dir $(STACK_DIR)

## test: the whole suite (starts the emulators itself)
test: $(STAMP)
	$(PY) -m pytest

## test-fast: the loop while you work: unit and contract tests on the embedded adapters, without the
##            tests marked emulator (they start emulators or Redis) or slow (see pyproject.toml)
test-fast: $(STAMP)
	$(PY) -m pytest -m "not emulator and not slow"

## lint: ruff (lint and format) over the whole tree and mypy over common/ (config in pyproject.toml)
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy common

## accuracy: per-field exact-match rates, honesty (silent errors, share flagged, exact over the
##           unflagged) and seconds per receipt, on RECEIPTS_DIR (default ../shared/receipts/real
##           when present), a fresh synthetic set in var/synthetic and the adversarial one in var/adversarial
accuracy: $(STAMP)
	@rm -rf var/synthetic var/adversarial && $(PY) -m tools.receipts --dataset var/synthetic >/dev/null
	@$(PY) -m tools.receipts --adversarial var/adversarial >/dev/null
	@$(PY) -m tools.accuracy $(RECEIPTS_DIR) var/synthetic var/adversarial --json var/accuracy.json

## bench: upload, OCR, end-to-end and memory figures, each beside its baseline (tools/bench.py);
##        writes bench/results.json and prints a table (about 5 minutes on 2 cores)
bench: $(STAMP)
	@$(PY) -m tools.bench --out bench/results.json

## package: one deterministic zip per function in dist/ (what Terraform deploys)
package:
	@python3 scripts/package.py dist

## samples: regenerate the bundled synthetic receipts
samples: $(STAMP)
	$(PY) -m tools.receipts samples

clean:
	-@$(PY) -m tools.stack down --state-dir $(STACK_DIR) 2>/dev/null
	rm -rf var test-output .pytest_cache dist

## smoke: check a deployment step by step (upload the sample, follow it to finished, the status
##        JSON, the listing, the webhook): make smoke API_KEY=... [WEBHOOK_RECEIVER=https://...]
##        [UPLOAD_URL=... STATUS_URL=...], the URLs from `terraform output` by default
.PHONY: smoke
smoke:
	@$(if $(wildcard $(PY)),$(PY),python3) -m tools.smoke --upload-url "$(UPLOAD_URL)" --status-url "$(STATUS_URL)" --api-key "$(API_KEY)" \
		--webhook-receiver "$(WEBHOOK_RECEIVER)"

.PHONY: plan deploy
TF := terraform -chdir=terraform

## plan: package the functions, then terraform init + plan with terraform/terraform.tfvars
plan: package
	$(TF) init -input=false
	$(TF) plan -input=false -var-file=terraform.tfvars

## deploy: package the functions, then terraform init + apply with terraform/terraform.tfvars
deploy: package
	$(TF) init -input=false
	$(TF) apply -input=false -var-file=terraform.tfvars


## reliability: fault injection on the full local stack (backends killed or cut off, the OCR
##              function and the worker killed mid-job, duplicate deliveries) and a load test of
##              500 uploads at concurrency 16; writes reliability-report.md, fails if a job is lost or stuck
reliability: $(STAMP)
	$(PY) -m tools.reliability --uploads 500 --concurrency 16 --report reliability-report.md
