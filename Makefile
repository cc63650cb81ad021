# Refinery — `make run` and `make test` each do all set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
JARS := .cache/jars
LAKE ?= lake
PIPELINE ?= web_text
RUN_STAMP := $(VENV)/.installed-run
SETUP_STAMP := $(VENV)/.installed
JARS_STAMP := $(JARS)/.stamp
BROKER_STAMP := $(JARS)/.broker-stamp
CLASS_ARCHIVE_STAMP := .cache/.class-archive-built
KERNELS := $(wildcard lib/refinery/transforms/kernels/*.py)
KERNELS_STAMP := $(VENV)/.kernels-compiled
ENV_ARCHIVE := dist/refinery-env.tar.gz
CLUSTER_ENV := .cache/cluster-env
# Databricks Runtime 17's Spark: a subset that runs every stage (and the stream, releases, readers) again on
# these, in a venv of their own.
COMPAT_VENV := .cache/venv-spark40
COMPAT_PINS := pyspark==4.0.1 delta-spark==4.0.1
COMPAT_TESTS := tests/stages/test_pipeline.py tests/stages/test_stream.py tests/stages/test_dedup_stage.py \
	tests/stages/test_publish_stage.py tests/io tests/test_releases.py
PACKAGED := pyproject.toml setup.py $(shell find lib conf schemas data/sample/eval -type f -not -path '*/__pycache__/*')

.DEFAULT_GOAL := help
.PHONY: help docs setup setup-run run run-tabular card test cluster-test compat-test lint bench bench-scale dist clean seed

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

setup-run: $(RUN_STAMP) $(JARS_STAMP) $(KERNELS_STAMP) $(CLASS_ARCHIVE_STAMP) ## what running needs: .venv with refinery[spark], Delta's and Kafka's jars once, the JVM's class archive, the compiled kernels

setup: setup-run $(SETUP_STAMP) $(BROKER_STAMP) ## setup-run, then what the tests need: refinery[dev] (torch, pytest ...), the test broker's jars

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[spark]"
	touch $@

$(SETUP_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(JARS_STAMP): $(RUN_STAMP)
	$(PY) -m refinery.session.jars --dest $(JARS)
	touch $@

$(BROKER_STAMP): $(SETUP_STAMP)
	$(PY) -m tests.kafka_broker --resolve  # the tests' and the stream bench's Kafka broker (a KRaft node)
	touch $@

# Local JVMs map their classes from an archive instead of loading them from jars: built once, where
# spark.class_archive says (refinery.class_archive).
$(CLASS_ARCHIVE_STAMP): $(JARS_STAMP) | $(KERNELS_STAMP)  # it runs the sample: curate's kernels compiled first (order only)
	$(PY) -m refinery.class_archive
	touch $@

# Curation's numba kernels, compiled once into their on-disk cache (about 50 s) instead of in a first run's workers.
$(KERNELS_STAMP): $(RUN_STAMP) $(KERNELS)
	$(PY) -m refinery.transforms.kernels
	touch $@

seed: ## copy the bundled sample raw files into $(LAKE)/raw/$(PIPELINE)
	mkdir -p $(LAKE)/raw/$(PIPELINE)
	cp data/sample/$(PIPELINE)/*.jsonl* $(LAKE)/raw/$(PIPELINE)/

# On a fresh checkout the run itself builds the class archive (one sample run, not two).
run: $(RUN_STAMP) $(JARS_STAMP) $(KERNELS_STAMP) seed ## run the whole pipeline on the bundled sample into ./lake
	@if [ $(CLASS_ARCHIVE_STAMP) -nt $(JARS_STAMP) ]; then \
		$(VENV)/bin/refinery run --pipeline $(PIPELINE) --env local --lake $(LAKE); \
	else \
		$(PY) -m refinery.class_archive --pipeline $(PIPELINE) --lake $(LAKE) && touch $(CLASS_ARCHIVE_STAMP); \
	fi

# The tabular sample's pseudonyms need a privacy key: a random one made once for this checkout, kept in the
# ignored .cache/ (never in a committed file). Elsewhere the key comes from REFINERY_PRIVACY_KEY or a secret scope.
DEV_KEY := .cache/dev-privacy-key

$(DEV_KEY):
	mkdir -p .cache && (umask 077 && $(PY) -c "import secrets; print(secrets.token_hex(32))" > $@)

run-tabular: setup-run $(DEV_KEY) ## the tabular sample (customer CSV + change files) into ./lake, then release tabular-sample
	mkdir -p $(LAKE)/raw/tabular
	cp data/sample/tabular/*.csv data/sample/tabular/*.jsonl $(LAKE)/raw/tabular/
	REFINERY_PRIVACY_KEY="$$(cat $(DEV_KEY))" $(VENV)/bin/refinery run --pipeline tabular --env local --lake $(LAKE)
	$(VENV)/bin/refinery release create tabular-sample-$$(date -u +%Y%m%d-%H%M%S) --pipeline tabular --env local --lake $(LAKE)

card: setup-run ## write a dataset card of the current gold into ./card (RELEASE=name describes a release)
	$(VENV)/bin/refinery card --pipeline $(PIPELINE) --env local --lake $(LAKE) --out card $(if $(RELEASE),--release $(RELEASE))

test: setup dist ## run the test suite (real Spark + Delta; the cluster test starts a standalone cluster)
	$(PY) -m pytest -q --durations=25

cluster-test: setup dist ## only the cluster test: spark-submit jobs/run.py to a master + 2 workers on 127.0.0.1
	$(PY) -m pytest -q tests/test_cluster.py

compat-test: setup ## every stage, the stream, readers and releases again on pyspark 4.0 + delta-spark 4.0
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet -e . $(COMPAT_PINS) "pytest>=8" "chispa>=0.10"
	$(COMPAT_VENV)/bin/python -m refinery.session.jars --dest $(JARS)
	$(COMPAT_VENV)/bin/python -m pytest -q --durations=10 $(COMPAT_TESTS)

docs: setup-run ## build the documentation site (docs/, MkDocs, strict: broken links fail) into .cache/site
	$(PY) -m pip install --quiet -e ".[docs]"
	$(PY) -m mkdocs build --strict --quiet

lint: setup ## ruff check
	$(VENV)/bin/ruff check lib tests jobs bench data resources

bench: setup ## run the benchmarks in bench/ (not part of `make test`)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m pip install -q --no-deps text-dedup==0.4.0  # only its minhash_spark.py script is used
	@for b in bench/*.py; do case $$b in *corpus.py|*spark_events.py|*pipeline.py) continue;; esac; echo "== $$b"; $(PY) $$b || exit 1; done

SIZES ?= 10000,100000,1000000
bench-scale: setup ## the whole pipeline at each of SIZES documents vs the I/O floor and DataTrove (bench/README.md)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/pipeline.py --sizes $(SIZES)

dist: $(ENV_ARCHIVE) ## build the wheel (conf/ and schemas/ inside) and dist/refinery-env.tar.gz (packed venv) for spark-submit --archives

# The packed environment: a fresh venv with the wheel and its dependencies (not pyspark or delta-spark, which
# the cluster provides), packed by venv-pack. Executors unpack it; it needs the same Python (3.11) at the same
# path on every node as the interpreter it was made from.
$(ENV_ARCHIVE): $(SETUP_STAMP) $(PACKAGED)
	rm -rf dist build $(CLUSTER_ENV)
	$(PY) -m pip wheel --quiet --no-deps -w dist . && rm -rf build
	$(PYTHON) -m venv $(CLUSTER_ENV)
	$(CLUSTER_ENV)/bin/python -m pip install --quiet dist/refinery-*.whl
	# The compiled kernels travel in the archive; pyspark comes from the cluster, here from .venv (as on a worker).
	mkdir -p .cache/spark-python
	for package in pyspark py4j; do ln -sfn "$$($(PY) -c "import $$package, os; print(os.path.dirname($$package.__file__))")" .cache/spark-python/$$package; done
	PYTHONPATH=.cache/spark-python $(CLUSTER_ENV)/bin/python -m refinery.transforms.kernels
	$(VENV)/bin/venv-pack --quiet --prefix $(CLUSTER_ENV) --output $@ --compress-level 1

clean: ## remove the local lake (keeps .venv and the jar cache)
	rm -rf $(LAKE) card spark-warehouse metastore_db derby.log
