"""The one place that builds a SparkSession: local (cached Delta jars), cluster (spark-submit) or Databricks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from refinery.config import SparkConfig
from refinery.errors import ConfigError
from refinery.jars import cached_jars

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def get_session(config: SparkConfig) -> SparkSession:
    """Reuse the active session (spark-submit, Databricks, tests) or start one from `config`.

    A reused session is returned untouched: its master, jars and packages belong to whoever started it.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    builder = SparkSession.builder.appName(config.app_name)
    if config.master:
        builder = builder.master(config.master)
    if (config.master or "").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Local Python workers must run this interpreter (the venv), not whatever `python3` is on PATH.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    if config.jars_dir:
        jars = cached_jars(config.jars_dir)
        if not jars:
            raise ConfigError(f"Delta jars not found in {config.jars_dir}; run `make setup` (or set spark.jars_dir)")
        builder = builder.config("spark.jars", ",".join(jars))
    if config.packages:
        builder = builder.config("spark.jars.packages", ",".join(config.packages))
    builder = builder.config("spark.sql.extensions", DELTA_EXTENSION).config(
        "spark.sql.catalog.spark_catalog", DELTA_CATALOG
    )
    for key, value in config.conf.items():
        builder = builder.config(key, value)

    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(config.log_level)
    log.info("spark %s session started (master=%s)", session.version, session.sparkContext.master)
    return session


@contextmanager
def settings(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """Session settings for the block only: each key gets its old value back (or is unset) afterwards."""
    previous = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


class Persisted:
    """The frames a block keeps persisted (memory, spilling to disk); all are unpersisted when it ends.

    with Persisted() as cache:
        flagged = cache.keep(flagged)
        ...
    """

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def keep(self, frame: DataFrame) -> DataFrame:
        """Persist `frame` until the block ends (or `release`); return it."""
        kept = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(kept)
        return kept

    def release(self, frame: DataFrame) -> None:
        """Unpersist `frame` before the block ends (the data behind it is no longer needed)."""
        frame.unpersist()
        self._frames = [kept for kept in self._frames if kept is not frame]

    def __enter__(self) -> Persisted:
        return self

    def __exit__(self, *_exc) -> None:
        for frame in self._frames:
            frame.unpersist()
        self._frames = []
