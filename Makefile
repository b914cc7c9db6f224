# openadapt.waa — the two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
INVENTORY := .standin/inventory.yml
PYTEST_ARGS ?=

.PHONY: help venv browser local-vm local-vm-down local-fleet demo test lint docs sanity molecule ee bench clean

help:
	@echo "make demo           bring up the stand-in VM and run 'waa vm-setup' against it"
	@echo "make test           run every test (brings the stand-in VM up first)"
	@echo "make local-vm       bring up the stand-in VM (sshd 127.0.0.1:2222, dockerd, registries)"
	@echo "make local-vm-down  stop what local-vm started (the fleet too)"
	@echo "make local-fleet N=4  N more stand-in VMs in network namespaces, inventory .standin/fleet.yml"
	@echo "make bench          regenerate docs/benchmarks.md"

# The virtual environment; re-installed only when pyproject.toml changes. --no-compile: Python compiles
# what a run imports, not ansible's ~40k files up front (CPU that a 2-core CI lacks).
venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -e '.[test]'
	@mkdir -p .collections/ansible_collections/openadapt
	@ln -sfn ../../.. .collections/ansible_collections/openadapt/waa
	@touch $(STAMP)

local-vm: venv
	$(PY) tests/standin/local_vm.py up

local-vm-down:
	$(PY) tests/standin/local_vm.py down

# A fleet of N stand-in VMs (network namespaces, each with its own sshd; they share the stand-in's
# dockerd and registries): .standin/fleet.yml, hosts vm-1 ... vm-N. `make local-vm-down` removes it.
N ?= 4
local-fleet: local-vm
	$(PY) tests/standin/local_vm.py fleet up --count $(N)

demo: local-vm
	$(VENV)/bin/waa vm-setup -i $(INVENTORY)

# Debian packages the tests need beyond the stand-in's own (headless Chromium for the viewer).
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Three processes share the stand-in (each with ports, containers and VM state of its own; the
# tests of one file in one process, for the module fixtures): the tests mostly wait on simulated
# boots and timeouts (a run on 2 cores used one core's worth of CPU), so a third process shortens the
# wall time. Then the few tests that stop or freeze what all share (sshd, dockerd) run alone.
test: local-vm browser
	$(VENV)/bin/pytest -n 3 --dist loadfile --no-loadscope-reorder -m "not serial" --durations=15 $(PYTEST_ARGS)
	$(VENV)/bin/pytest -m serial --durations=5 $(PYTEST_ARGS)

bench: local-vm
	$(PY) bench/run.py

# The quality gates one by one (make test runs them all).
lint: venv
	$(VENV)/bin/ansible-lint

docs: venv
	$(PY) tests/ecosystem/variables_doc.py

sanity: venv
	$(VENV)/bin/pytest tests/integration/test_ecosystem_sanity.py

molecule: local-vm
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s default
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s fresh-host

ee: venv
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build/collection
	$(VENV)/bin/ansible-builder create -f execution-environment.yml -c build/ee

clean:
	rm -rf $(VENV) .collections build dist
