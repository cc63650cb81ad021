"""A tabular pipeline's silver and gold schemas, derived from its bronze columns and its `tabular` section.

What the stages make of a record is fixed by the config: identifiers become keyed tokens, a generalized column
becomes its coarser output, gold keeps the key, the split, the label, the quasi-identifiers and the features
(each numeric feature also standardized as `<column>_z`, each categorical one indexed as `<column>_idx`). So a
user declares bronze only (or `refinery init --from FILE` profiles it) and the rest is written from here; the
sample's hand-written silver and gold are what this derives (a test keeps them equal).
"""

from __future__ import annotations

import yaml

from refinery.config.tabular import TabularConfig
from refinery.tables import Column

TOKEN = "keyed token"
BRONZE_BOOKKEEPING = (
    Column("doc_id", "string", False, True, "row id: sha256 of source file + line"),
    Column("source", "string", False, True, "the configured source that read it"),
    Column("_op", "string", False, False, "insert | update | delete"),
    Column("_seq", "bigint", False, False, "the change's sequence number: the highest per key wins"),
    Column("_file", "string", False, True),
    Column("_line", "bigint", False),
    Column("_ingested_at", "timestamp", False),
    Column("_run_id", "string", False),
)
SILVER_BOOKKEEPING = (
    Column("doc_id", "string", True, True, "bronze row of the winning change (null: a tombstone)"),
    Column("_op", "string", False),
    Column("_seq", "bigint", False),
    Column("_file", "string", True, True),
    Column("_line", "bigint", True),
    Column("_ingested_at", "timestamp", True),
    Column("_run_id", "string", False),
)


def bronze_columns(data: list[Column]) -> list[Column]:
    """Bronze: the record's data columns (all nullable: a missing field is null), then ingest's bookkeeping."""
    return [*(_nullable(column) for column in data), *BRONZE_BOOKKEEPING]


def silver_columns(bronze: list[Column], cfg: TabularConfig) -> list[Column]:
    """Silver: the data columns with identifiers as keyed tokens and generalized columns coarser, then the
    bookkeeping of the winning change."""
    outputs = {g.column: g for g in cfg.generalize}
    data = []
    for column in _data(bronze):
        if column.name in cfg.identifiers or column.name == cfg.key:
            data.append(Column(column.name, "string", column.name != cfg.key, True, TOKEN))
        elif column.name in outputs:
            data.append(Column(outputs[column.name].output, "string", True))
        else:
            data.append(_nullable(column))
    return [*data, *SILVER_BOOKKEEPING]


def gold_columns(bronze: list[Column], cfg: TabularConfig) -> list[Column]:
    """Gold: key, split, label, the quasi-identifiers and features as silver has them, `<numeric>_z`,
    `<categorical>_idx`, the shuffle key, the sample weight and the run id."""
    silver = {column.name: column for column in silver_columns(bronze, cfg)}
    label = silver[cfg.label]
    kept = [g.output for g in cfg.generalize] + list(cfg.features.categorical) + list(cfg.features.numeric)
    return [
        Column(cfg.key, "string", False, True, f"{TOKEN}: the split group"),
        Column("split", "string", False),
        Column(cfg.label, label.type, False, False, "the label"),
        *(_nullable(silver[name]) for name in dict.fromkeys(kept) if name not in (cfg.key, cfg.label)),
        *(Column(f"{name}_z", "double", True) for name in cfg.features.numeric),
        *(Column(f"{name}_idx", "int", False) for name in cfg.features.categorical),
        Column("shuffle_key", "bigint", False, False, "keyed hash of the key; file row order"),
        Column("sample_weight", "double", True),
        Column("_run_id", "string", False),
    ]


def schema_yaml(description: str, columns: list[Column]) -> str:
    """A schema file (`schemas/*.yaml` format) for these columns."""
    rows = []
    for column in columns:
        entry = {"name": column.name, "type": column.type, "nullable": column.nullable}
        if column.personal:
            entry["personal"] = True
        if column.comment:
            entry["comment"] = column.comment
        rows.append("  - " + yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=1000).strip())
    return f"description: {yaml.safe_dump(description, width=1000).strip().removesuffix('...').strip()}\ncolumns:\n" + (
        "\n".join(rows) + "\n"
    )


def _data(bronze: list[Column]) -> list[Column]:
    bookkeeping = {column.name for column in BRONZE_BOOKKEEPING}
    return [column for column in bronze if column.name not in bookkeeping]


def _nullable(column: Column) -> Column:
    return Column(column.name, column.type, True, column.personal, None)
