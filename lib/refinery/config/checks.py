"""Checks of a loaded config against the table schemas its pipeline kind declares (each kind names its check in
`refinery.pipelines`): a column a setting names must exist where it is used, so a typo is one line and exit 2
at load time, not a failure inside Spark."""

from __future__ import annotations

from refinery import tables
from refinery.config.sections import Config
from refinery.config.tabular import check_tabular_columns
from refinery.errors import ConfigError
from refinery.transforms.params import group_column

TABULAR_FORMATS = ("jsonl", "json", "csv")  # record data comes from text formats


def check_text(config: Config) -> None:
    """publish.group_key must read a column that publish's input declares (checked here, not mid-run)."""
    column = group_column(config.publish.group_key)
    table = config.pipeline_kind.stage("publish").reads
    declared = tables.column_names(table, config.kind, config.schemas)
    if column not in declared:
        raise ConfigError(
            f"config key 'publish.group_key': '{config.publish.group_key}' reads column '{column}', which "
            f"{table} does not have (columns: {', '.join(declared)})"
        )
    if config.publish.group_key == "url_host" and "url" in config.privacy.pseudonymize:
        raise ConfigError(
            "config key 'publish.group_key': url_host cannot group pseudonymized URLs (privacy.pseudonymize "
            "has url); group by doc_id or meta.<key>"
        )


def check_tabular(config: Config) -> None:
    """Record data comes from text formats; the tabular section names columns of bronze, silver and gold."""
    for source in config.ingest.file_sources:
        if source.format not in TABULAR_FORMATS:
            raise ConfigError(f"source '{source.name}': a tabular pipeline reads {', '.join(TABULAR_FORMATS)} files")
    layers = ("bronze", "silver", "gold")
    bronze, silver, gold = (tables.column_names(name, config.kind, config.schemas) for name in layers)
    check_tabular_columns(config.tabular, bronze, silver, gold)


def require_file_sources(config: Config) -> None:
    """`refinery ingest` reads files: a pipeline fed by Kafka topics alone is ingested by `refinery stream`."""
    if not config.ingest.file_sources:
        raise ConfigError(
            f"pipeline '{config.pipeline}' has only Kafka sources: `refinery stream` ingests them, not `ingest`"
        )
