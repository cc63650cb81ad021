"""Checks a command can make before the JVM starts: a missing raw folder, input table or eval set is one
line and exit 2 in well under a second, not after Spark's start-up.

Only what needs no Spark is checked here: local paths. URIs and catalog tables are checked by the stages
themselves, with the same messages.
"""

from __future__ import annotations

from pathlib import Path

from refinery import paths, tables
from refinery.config import Config, project_path
from refinery.errors import ConfigError, InputNotFoundError
from refinery.io.listing import check_raw_path

# The table each stage reads (ingest reads raw files), and the stage that writes it.
STAGE_INPUTS = {"curate": "bronze", "dedup": "silver", "publish": "silver_dedup"}
WRITTEN_BY = {"bronze": "ingest", "silver": "curate", "silver_dedup": "dedup"}


class MissingInputError(InputNotFoundError):
    """A stage's input table has not been written yet."""

    def __init__(self, table: str, layer: str):
        super().__init__(f"input table {table} does not exist; run `refinery {WRITTEN_BY[layer]}` first")


def check_eval_set(name: str, location: str) -> None:
    """A local eval-set path must exist (a URI is checked when Spark reads it)."""
    if paths.exists_locally(location) is False:
        raise InputNotFoundError(f"eval set '{name}': path {location} does not exist")


def require_file_sources(config: Config) -> None:
    """`refinery ingest` reads files: a pipeline fed by Kafka topics alone is ingested by `refinery stream`."""
    if not config.ingest.file_sources:
        raise ConfigError(
            f"pipeline '{config.pipeline}' has only Kafka sources: `refinery stream` ingests them, not `ingest`"
        )


def check_inputs(config: Config, stages: list[str]) -> None:
    """Raise an InputNotFoundError for the first local input the first stage of `stages` cannot find,
    and for a local eval set that publish would read."""
    if not stages:
        return
    first = stages[0]
    if first in ("ingest", "stream"):  # the stream ingests files too, and Kafka topics
        if first == "ingest":
            require_file_sources(config)
        raw_root = paths.join(config.lake.root, tables.table("raw").key(config.pipeline))
        for source in config.ingest.file_sources:
            check_raw_path(source.folder(raw_root))
    elif first in STAGE_INPUTS and not config.lake.catalog:
        layer = STAGE_INPUTS[first]
        location = paths.join(config.lake.root, tables.table(layer).key(config.pipeline))
        if paths.is_local(location) and not (Path(paths.local_path(location)) / "_delta_log").is_dir():
            raise MissingInputError(location, layer)
    if "publish" in stages and config.publish.decontamination.enabled:
        for eval_set in config.publish.decontamination.eval_sets:
            check_eval_set(eval_set.name, project_path(eval_set.path))
