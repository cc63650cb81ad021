"""`refinery profile`: column profiles of a pipeline's table and the expectations they suggest, as YAML.

Two small aggregations over the table (`refinery.transforms.tabular.profile`); the output is a commented YAML
block whose `expectations` list can be pasted under `tabular:` and tightened. Columns that may hold a
person's data (the schema's `personal` ones) and bookkeeping columns are not profiled: their bounds or
values would print personal data.
"""

from __future__ import annotations

import yaml

from refinery.config import Config
from refinery.errors import MissingInputError
from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake
from refinery.transforms.tabular.profile import (
    as_config,
    profile_columns,
    read_profiles,
    refine_profiles,
    suggest_expectations,
    to_refine,
)


def profile_report(lake: Lake, config: Config, layer: str) -> str:
    """The profiles and suggested expectations of the latest version of `layer`, as commented YAML."""
    ref = lake.table(layer, config.pipeline)
    version = lake.version(ref)
    if version is None:
        raise MissingInputError(str(ref), config.pipeline_kind.writer_of(layer).name)
    schema = table_schema(layer, config.kind, config.schemas)
    skipped = [c for c in schema.column_names if c in schema.personal or c.startswith("_") or c == "doc_id"]
    table = lake.read(ref, version).drop(*skipped)
    row = profile_columns(table).first()  # one row
    refined = refine_profiles(table, *to_refine(read_profiles(table, row))).first()  # one row
    profiles = read_profiles(table, row, refined)
    lines = [f"# {ref.key} version {version}: {profiles[0].rows if profiles else 0} rows"]
    lines.append(f"# not profiled (personal or bookkeeping): {', '.join(skipped) or 'none'}")
    lines.append("# column  type  nulls  distinct  min..max (strings: length)")
    for p in profiles:
        bounds = "" if p.low is None else f"{_text(p.low)}..{_text(p.high)}"
        lines.append(f"#   {p.name}  {p.type}  {p.nulls}  {p.distinct}  {bounds}")
    suggested = {"expectations": as_config(suggest_expectations(profiles))}
    return "\n".join(lines) + "\n" + yaml.safe_dump(suggested, sort_keys=False, width=120)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
