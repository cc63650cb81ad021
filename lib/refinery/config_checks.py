"""Checks of a loaded config against the table schemas its pipeline kind declares: a column a setting names
must exist where it is used, so a typo is one line and exit 2 at load time, not a failure inside Spark."""

from __future__ import annotations

from refinery.config import Config
from refinery.errors import ConfigError
from refinery.schemas import table_schema
from refinery.tabular_config import check_tabular_columns
from refinery.transforms.params import group_column


def check_columns(config: Config) -> None:
    """The kind's checks: tabular settings against bronze, silver and gold; text's publish.group_key."""
    if config.kind == "tabular":
        _check_tabular(config)
    else:
        _check_group_key_column(config)


def _check_tabular(config: Config) -> None:
    """Record data comes from text formats; the tabular section names columns of bronze, silver and gold."""
    formats = ("jsonl", "json", "csv")
    for source in config.ingest.file_sources:
        if source.format not in formats:
            raise ConfigError(f"source '{source.name}': a tabular pipeline reads {', '.join(formats)} files")
    bronze, silver, gold = (table_schema(name, config.kind).column_names for name in ("bronze", "silver", "gold"))
    check_tabular_columns(config.tabular, bronze, silver, gold)


def _check_group_key_column(config: Config) -> None:
    """publish.group_key must read a column that silver_dedup declares (checked here, not mid-run)."""
    column = group_column(config.publish.group_key)
    declared = table_schema("silver_dedup", config.kind).column_names
    if column not in declared:
        raise ConfigError(
            f"config key 'publish.group_key': '{config.publish.group_key}' reads column '{column}', which "
            f"silver_dedup does not have (columns: {', '.join(declared)})"
        )
    if config.publish.group_key == "url_host" and "url" in config.privacy.pseudonymize:
        raise ConfigError(
            "config key 'publish.group_key': url_host cannot group pseudonymized URLs (privacy.pseudonymize "
            "has url); group by doc_id or meta.<key>"
        )
