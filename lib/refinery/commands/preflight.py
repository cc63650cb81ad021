"""Checks a command can make before the JVM starts: a missing raw folder, input table or eval set is one
line and exit 2 in well under a second, not after Spark's start-up.

Only what needs no Spark is checked here: local paths. URIs and catalog tables are checked by the stages
themselves, with the same messages.
"""

from __future__ import annotations

from pathlib import Path

from refinery import paths, pipelines, tables
from refinery.config import Config, project_path
from refinery.config.checks import require_file_sources
from refinery.errors import MissingInputError
from refinery.io.listing import check_eval_set, check_raw_path


def check_inputs(config: Config, commands: list[str]) -> None:
    """Raise a usage error for a command the pipeline's kind does not have, for the first local input the first
    command cannot find, and for a local eval set that publish would read."""
    if not commands:
        return
    kind = config.pipeline_kind
    for command in commands:
        kind.check_command(config.pipeline, command)
    first = commands[0]
    if first in ("ingest", "stream"):  # the stream ingests files too, and Kafka topics
        if first == "ingest":
            require_file_sources(config)
        raw_root = paths.join(config.lake.root, tables.table(pipelines.RAW).key(config.pipeline))
        for source in config.ingest.file_sources:
            check_raw_path(source.folder(raw_root))
    elif first in kind.stage_names and not config.lake.catalog:
        layer = kind.stage(first).reads
        location = paths.join(config.lake.root, tables.table(layer).key(config.pipeline))
        if paths.is_local(location) and not (Path(paths.local_path(location)) / "_delta_log").is_dir():
            raise MissingInputError(location, kind.writer_of(layer).name)
    if "publish" in commands and kind.decontaminates and config.publish.decontamination.enabled:
        for eval_set in config.publish.decontamination.eval_sets:
            check_eval_set(eval_set.name, project_path(eval_set.path))
