# dd-assessment: `make up` deploys stack `test`, `make test` runs every test.
SHELL := bash
VENV := venv
PYTHON := $(VENV)/bin/python
STACK ?= test
# A local file backend inside the project unless you already chose one.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state

.PHONY: test up preview destroy bench lint

## Every test: the program under mocks, the boot files, PostgreSQL, the Agent check, the app.
test: $(VENV)/.installed
	$(PYTHON) -m pytest -n 2 -q
	bash tests/host/run.sh -q

## Deploy / preview / tear down stack $(STACK).
up preview destroy: $(VENV)/.installed
	pulumi stack select --create $(STACK)
	pulumi $@ --stack $(STACK)

bench: $(VENV)/.installed
	$(PYTHON) bench/eval.py

# The same venv `pulumi up` uses (Pulumi.yaml: virtualenv: venv), plus the test tools.
$(VENV)/.installed: requirements.txt requirements-test.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@
