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

# The stages `refinery run` runs for each pipeline kind, in order (record data has no dedup stage).
KIND_STAGES = {"text": ("ingest", "curate", "dedup", "publish"), "tabular": ("ingest", "curate", "publish")}
# The table each stage reads (ingest reads raw files), and the stage that writes it.
STAGE_INPUTS = {"curate": "bronze", "dedup": "silver", "publish": "silver_dedup"}
KIND_INPUTS = {"tabular": {"publish": "silver"}}  # where a kind's stage reads elsewhere
TEXT_ONLY_COMMANDS = ("stream", "forget", "explain")  # not built for record data yet
WRITTEN_BY = {"bronze": "ingest", "silver": "curate", "silver_dedup": "dedup"}


def stage_input(kind: str, stage: str) -> str | None:
    """The table `stage` reads in a pipeline of `kind` (None: raw files, or nothing)."""
    return KIND_INPUTS.get(kind, {}).get(stage, STAGE_INPUTS.get(stage))


def check_stage_applies(config: Config, stage: str) -> None:
    """A stage or command the pipeline's kind does not have (dedup of record data) is a usage error."""
    known = KIND_STAGES[config.kind]
    missing = stage in STAGE_INPUTS and stage not in known
    if missing or (stage in TEXT_ONLY_COMMANDS and config.kind != "text"):
        raise ConfigError(
            f"pipeline '{config.pipeline}' is {config.kind}: it has no {stage} stage (its stages: {', '.join(known)})"
        )


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
    for stage in stages:
        check_stage_applies(config, stage)
    first = stages[0]
    if first in ("ingest", "stream"):  # the stream ingests files too, and Kafka topics
        if first == "ingest":
            require_file_sources(config)
        raw_root = paths.join(config.lake.root, tables.table("raw").key(config.pipeline))
        for source in config.ingest.file_sources:
            check_raw_path(source.folder(raw_root))
    elif stage_input(config.kind, first) and not config.lake.catalog:
        layer = stage_input(config.kind, first)
        location = paths.join(config.lake.root, tables.table(layer).key(config.pipeline))
        if paths.is_local(location) and not (Path(paths.local_path(location)) / "_delta_log").is_dir():
            raise MissingInputError(location, layer)
    if "publish" in stages and config.kind == "text" and config.publish.decontamination.enabled:
        for eval_set in config.publish.decontamination.eval_sets:
            check_eval_set(eval_set.name, project_path(eval_set.path))
