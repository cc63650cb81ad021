# Refinery — `make run` and `make test` each do all set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
JARS := .cache/jars
LAKE ?= lake
PIPELINE ?= web_text
SETUP_STAMP := $(VENV)/.installed
JARS_STAMP := $(JARS)/.complete

.DEFAULT_GOAL := help
.PHONY: help setup run card test lint bench dist clean seed

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

setup: $(SETUP_STAMP) $(JARS_STAMP) ## create .venv, install refinery[dev], resolve the Delta jars once (offline afterwards)

$(SETUP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(JARS_STAMP): $(SETUP_STAMP)
	$(PY) -m refinery.jars --dest $(JARS)

seed: ## copy the bundled sample raw files into $(LAKE)/raw/$(PIPELINE)
	mkdir -p $(LAKE)/raw/$(PIPELINE)
	cp data/sample/$(PIPELINE)/*.jsonl* $(LAKE)/raw/$(PIPELINE)/

run: setup seed ## run the whole pipeline on the bundled sample into ./lake
	$(VENV)/bin/refinery run --pipeline $(PIPELINE) --env local --lake $(LAKE)

card: setup ## write a dataset card of the current gold into ./card (RELEASE=name describes a release)
	$(VENV)/bin/refinery card --pipeline $(PIPELINE) --env local --lake $(LAKE) --out card $(if $(RELEASE),--release $(RELEASE))

test: setup ## run the test suite (real Spark + Delta in local mode)
	$(PY) -m pytest -q

lint: setup ## ruff check
	$(VENV)/bin/ruff check lib tests jobs bench data

bench: setup ## run the benchmarks in bench/ (not part of `make test`)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m pip install -q --no-deps text-dedup==0.4.0  # only its minhash_spark.py script is used
	@for b in bench/*.py; do case $$b in *_corpus.py) continue;; esac; echo "== $$b"; $(PY) $$b || exit 1; done

dist: setup ## build the wheel and a zip of lib/refinery for spark-submit --py-files
	$(PY) -m pip wheel --quiet --no-deps -w dist .
	cd lib && ../$(PY) -m zipfile -c ../dist/refinery.zip refinery

clean: ## remove the local lake (keeps .venv and the jar cache)
	rm -rf $(LAKE) card spark-warehouse metastore_db derby.log
