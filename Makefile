# dd-assessment: `make up` deploys stack `test`, `make test` runs every test.
SHELL := bash
VENV := venv
PYTHON := $(VENV)/bin/python
STACK ?= test
# Extra flags: for up/preview/destroy, scripts/deploy.sh's (--yes, --policy, --secrets-provider
# URL); for verify, its own (--wait MINUTES, --json, --outputs FILE); for snapshot, --outputs FILE;
# for load, --clients N, --minutes M, --outputs FILE; for report, --wait MINUTES, --outputs FILE,
# --pictures-wait SECONDS, --into DIR.
ARGS ?=
# `make load`: which host of the stack (0..hostCount-1).
HOST ?= 0

.PHONY: test conformance up preview destroy verify snapshot report load policy bench toolchain e2e

## Every test: the program under mocks, the boot files, PostgreSQL, the Agent check, the app,
## the policy pack, the workflow and the deploy script. First the system packages they need
## (tests/system-packages.txt): installed when run as root, else named with the command to run.
test:
	bash tests/system-packages.sh
	@$(MAKE) -s --no-print-directory $(VENV)/.installed
	$(PYTHON) -m pytest -n 2 -q
	bash tests/host/run.sh -q

## The real providers (command, random, time, datadog, docker; built by `make toolchain`) judge every
## resource the program declares, for 1 and 3 hosts: CheckConfig, Configure, Check; the Datadog
## resources created, read back and diffed against a stand-in API, one host's Docker resources on a
## private dockerd (tests/providers/README.md). Not part of `make test`: it needs the toolchain.
conformance: $(VENV)/.installed
	SYSTEM_PACKAGES_LIST=tests/providers/system-packages.txt SYSTEM_PACKAGES_FOR="make conformance" bash tests/system-packages.sh
	@if [[ ! -f toolchain/env.sh ]]; then echo "make conformance: no toolchain/env.sh here: run make toolchain" >&2; exit 1; fi
	source toolchain/env.sh && $(PYTHON) -m pytest -c tests/providers/pytest.ini --rootdir . -q $(ARGS)

## Deploy / preview / tear down stack $(STACK): checks prerequisites first (before building the
## program's runtime in ./venv), picks the backend (a file backend in .pulumi-state/ unless you
## chose one; never `pulumi login`), asks for missing settings, then runs Pulumi.
up preview destroy:
	scripts/deploy.sh check
	@$(MAKE) -s --no-print-directory $(VENV)/.runtime
	scripts/deploy.sh $@ $(STACK) $(ARGS)

## Check every item of the exercise in the live Datadog org (ops/verify.py); right after
## `make up`: make verify ARGS="--wait 15". Send a my_metric snapshot to notifyHandles (ops/snapshot.py).
verify snapshot: $(VENV)/.runtime
	scripts/pulumi-backend.sh $(PYTHON) -m ops.$@ --stack $(STACK) $(ARGS)

## The exercise's write-up from the live org (ops/report.py): report/$(STACK)/report.md and
## report.html with graph snapshots, make verify's verdict first. After make up:
## make report ARGS="--wait 15".
report: $(VENV)/.runtime
	scripts/pulumi-backend.sh $(PYTHON) -m ops.report --stack $(STACK) $(ARGS)

## The write-up's PostgreSQL connection burst on host $(HOST) (ops/load.py): pgbench holds
## about 90 connections for 3 minutes; Ctrl-C stops it cleanly.
load: $(VENV)/.runtime
	scripts/pulumi-backend.sh $(PYTHON) -m ops.load --stack $(STACK) --host $(HOST) $(ARGS)

## The policy pack's own environment, for `make preview ARGS=--policy`.
policy: policy/venv/.installed

## The real Pulumi toolchain (CLI, Python language host, the pinned provider plugins but AWS's),
## built from Go modules into ${DD_ASSESSMENT_CACHE:-~/.cache/dd-assessment}/toolchain/<key>;
## `source toolchain/env.sh` uses it. Cold: long (see README); again: seconds.
toolchain:
	bash toolchain/build.sh

bench: $(VENV)/.installed
	$(PYTHON) bench/eval.py

## The whole program through the real Pulumi CLI on this machine (Linux, root): preview, up,
## a host replacement, destroy, for 1 and 2 hosts, AWS and Datadog answered by local stand-ins and
## each EC2 instance a real test host (tests/e2e/run.py). Prints each phase's wall time.
## ARGS: --hosts 1 (only one host count), --keep (keep the temporary directory).
E2E_VENV := $(or $(DD_ASSESSMENT_CACHE),$(HOME)/.cache/dd-assessment)/e2e-venv
e2e: toolchain $(VENV)/.installed policy/venv/.installed $(E2E_VENV)/.installed
	SYSTEM_PACKAGES_LIST=tests/e2e/system-packages.txt SYSTEM_PACKAGES_FOR="make e2e" bash tests/system-packages.sh
	cd tests/e2e && $(E2E_VENV)/bin/python -m pytest -q -c pytest.ini
	$(E2E_VENV)/bin/python tests/e2e/run.py --python $(E2E_VENV)/bin/python $(ARGS)

$(E2E_VENV)/.installed: tests/e2e/requirements.txt
	python3 -m venv $(E2E_VENV)
	$(E2E_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
	touch $@

# The venv `pulumi up` uses (Pulumi.yaml: virtualenv: venv) with the program's and the operator
# tools' runtime only: what make up, verify, snapshot, report and load need.
$(VENV)/.runtime: requirements.txt ops/requirements.txt
	@echo "building $(VENV) from requirements.txt and ops/requirements.txt" >&2
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r ops/requirements.txt
	touch $@

# The same venv plus the test tools (requirements-test.txt includes both runtime files).
$(VENV)/.installed: requirements.txt requirements-test.txt ops/requirements.txt
	@echo "building $(VENV) from requirements-test.txt" >&2
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(VENV)/.runtime $@

policy/venv/.installed: policy/requirements.txt
	python3 -m venv policy/venv
	policy/venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

## The e2e test hosts' own tests (Linux, root; slow, not part of `make test`): netns + dockerd +
## sshd + PostgreSQL per host, the aws CLI stand-in, the test images (tests/e2e/hosts/README.md).
.PHONY: e2e-hosts
e2e-hosts:
	SYSTEM_PACKAGES_LIST=tests/e2e/system-packages.txt SYSTEM_PACKAGES_FOR="make e2e-hosts" bash tests/system-packages.sh
	bash tests/e2e/hosts/run.sh -q
