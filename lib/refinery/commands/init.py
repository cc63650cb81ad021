"""`refinery init DIR`: a project folder of the user's own, layered on the packaged defaults (no checkout, no
`spark.jars_dir`): `pipelines/<name>.yaml` and, for record data, `schemas/<name>/` with bronze profiled from a
sample file and silver and gold derived from it (`refinery.config.tabular_schemas`). No JVM: a sample is read
with pyarrow, a few thousand rows at most.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

from refinery.commands.init_profile import (
    BIRTH_DATE,
    IDENTIFIER,
    POSTAL_CODE,
    SENSITIVE,
    bronze_column,
    is_categorical,
    is_numeric,
    profile_table,
    read_sample,
)
from refinery.config.tabular import ChangeColumns, FeatureConfig, TabularConfig
from refinery.config.tabular_schemas import bronze_columns, gold_columns, schema_yaml, silver_columns
from refinery.errors import UsageError
from refinery.transforms.tabular.params import Generalization
from refinery.transforms.tabular.profile import as_config, suggest_expectations

ARCHIVES = re.compile(r"\.(warc|arc|wet)(\.(gz|bz2|xz|zst))?$", re.I)
TEXT_FILES = re.compile(r"\.(txt|html?|md)(\.(gz|bz2|xz|zst))?$", re.I)
TABLE_FILES = re.compile(r"\.(csv|parquet)(\.(gz|bz2|xz|zst))?$", re.I)
JSON_FILES = re.compile(r"\.(jsonl|json)(\.(gz|bz2|xz|zst))?$", re.I)
_LABELS = ("label", "target", "y", "class", "outcome", "churned", "churn", "default")


def init_project(
    folder: Path, *, name: str | None, kind: str | None, sample: Path | None, label: str | None
) -> list[str]:
    """Write the project's files (never over existing ones); returns what a user reads: the files written and
    the next commands."""
    name = name or _snake(folder.resolve().name)
    pipeline = folder / "pipelines" / f"{name}.yaml"
    if pipeline.exists():
        raise UsageError(f"{pipeline} exists already: pick another --name or folder")
    if sample is not None and not sample.is_file():
        raise UsageError(f"--from {sample}: no such file")
    kind = kind or _kind_of(sample)
    written: dict[Path, str] = {}
    if kind == "tabular":
        if sample is None:
            raise UsageError("a tabular project needs --from FILE (a CSV, JSONL or Parquet sample) to profile")
        config, schemas = _tabular_project(name, sample, label)
        written.update({folder / "schemas" / name / f"{layer}.yaml": text for layer, text in schemas.items()})
    else:
        config = _text_project(name, sample)
    written[pipeline] = config
    if not (folder / ".gitignore").exists():
        written[folder / ".gitignore"] = "lake/\n"  # the lake holds raw data: never committed
    for path, text in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [
        *(f"wrote {path}" for path in written),
        f"next: cd {folder} && refinery run --pipeline {name}   (lake: {folder / 'lake'})",
    ]


def _kind_of(sample: Path | None) -> str:
    if sample is None or ARCHIVES.search(sample.name) or TEXT_FILES.search(sample.name):
        return "text"
    if TABLE_FILES.search(sample.name):
        return "tabular"
    if JSON_FILES.search(sample.name):
        return "text" if "text" in read_sample(sample).column_names else "tabular"
    raise UsageError(f"--from {sample.name}: not a WARC/ARC/WET, text, JSONL, CSV or Parquet file (or say --kind)")


def _source(sample: Path) -> dict:
    """A source reading the sample's folder, every file named like it."""
    suffix = re.search(r"(\.[A-Za-z0-9]+)+$", sample.name)
    glob = "*" + (suffix.group(0) if suffix else "")
    if ARCHIVES.search(sample.name):
        fmt = "warc"
    elif TEXT_FILES.search(sample.name):
        fmt = "text"
    else:
        fmt = next(f for f in ("jsonl", "json", "csv", "parquet") if f".{f}" in sample.name.lower())
    return {"name": "files", "format": fmt, "path": str(sample.resolve().parent), "glob": glob}


def _text_project(name: str, sample: Path | None) -> str:
    lines = [f"# {name}: documents (by `refinery init`; the packaged defaults fill everything else)", "kind: text"]
    if sample is not None:
        source = _source(sample)
        if source["format"] in ("jsonl", "json"):
            columns = read_sample(sample).column_names
            fields = {key: key for key in ("id", "url") if key in columns}
            if fields:
                source["fields"] = {**fields, "text": "text"}
        lines += ["ingest:", "  sources:", "    - " + _flow(source)]
    else:
        below = f"    - {{name: files, format: jsonl, glob: '*.jsonl*'}}  # files below lake/raw/{name}"
        lines += ["ingest:", "  sources:", below]
    lines += ["curate:", "  language:", "    keep: [en]   # the languages to keep ([] keeps every language)"]
    return "\n".join(lines) + "\n"


def _tabular_project(name: str, sample: Path, label: str | None) -> tuple[str, dict[str, str]]:
    """The pipeline YAML and the bronze, silver and gold schemas of a record-data sample."""
    profiles, looks = profile_table(read_sample(sample))
    by_name = {p.name: p for p in profiles}
    named = [p for p in profiles if re.search(r"(^|_)(id|key)$", p.name, re.I) and p.nulls <= 0.01 * p.rows]
    key = next((p.name for p in named if p.distinct >= 0.9 * p.rows), None)  # change files repeat a key
    key = key or next((p.name for p in profiles if p.nulls == 0 and p.distinct == p.rows), None)
    if key is None:
        raise UsageError(f"--from {sample.name}: no column is unique and never empty, so none identifies a row")
    label = label or next((p.name for p in profiles if p.name.lower() in _LABELS), None)
    if label is None or label not in by_name:
        raise UsageError(f"--from {sample.name}: say which column is the training label with --label COLUMN")
    change = ChangeColumns()
    data = [p for p in profiles if p.name not in (change.operation, change.sequence)]
    identifiers = [key, *(p.name for p in data if looks.get(p.name) == IDENTIFIER and p.name != key)]
    generalize = [
        *(
            Generalization(p.name, "age_band", 10, date.today().isoformat(), "age_band")
            for p in data
            if looks.get(p.name) == BIRTH_DATE
        ),
        *(
            Generalization(p.name, "prefix", 2, into=f"{p.name}_prefix")
            for p in data
            if looks.get(p.name) == POSTAL_CODE
        ),
    ]
    dropped = {key, label, *identifiers, *(g.column for g in generalize)}
    numeric = [p.name for p in data if is_numeric(p) and p.name not in dropped]
    categorical = [g.output for g in generalize if g.kind == "age_band"] + [
        p.name for p in data if is_categorical(p) and p.name not in dropped and p.name not in looks
    ]
    features = FeatureConfig(numeric=numeric, categorical=categorical)
    cfg = TabularConfig(key=key, label=label, identifiers=identifiers, generalize=generalize, features=features)
    bronze = bronze_columns([bronze_column(p, personal=p.name in dropped - {label}) for p in data])
    quasi = [g.output for g in generalize] + [p.name for p in data if looks.get(p.name) == SENSITIVE]
    schemas = {
        "bronze": schema_yaml(f"Typed records of {sample.name}, with lineage", bronze),
        "silver": schema_yaml("Current records, pseudonymized and generalized", silver_columns(bronze, cfg)),
        "gold": schema_yaml("Training rows, split and encoded", gold_columns(bronze, cfg)),
    }
    snapshot = not {change.operation, change.sequence} <= set(by_name)  # no change columns: rows are upserts
    # What the sample meets (as `refinery profile` suggests it), without the columns that become tokens or bands.
    checked = [p for p in data if p.name not in dropped - {label}]
    document = {
        "kind": "tabular",
        "ingest": {"sources": [{**_source(sample), "snapshot": snapshot}]},
        "tabular": {
            "key": key,
            "label": label,
            "identifiers": identifiers,
            "generalize": [_plain(g) for g in generalize],
            "expectations": as_config(suggest_expectations(checked)),
            "anonymity": {"quasi_identifiers": quasi, "k": 5, "policy": "suppress"} if quasi else {},
            "features": {"numeric": numeric, "categorical": categorical},
            "fairness": {"attributes": list(quasi)} if quasi else {},
        },
    }
    header = f"# {name}: profiled from {sample.name} by `refinery init` (review the guesses: key, label, identifiers)\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=110), schemas


def _plain(generalization: Generalization) -> dict:
    out = {"column": generalization.column, "kind": generalization.kind, "width": generalization.width}
    if generalization.kind == "age_band":
        out["as_of"] = generalization.as_of
    return {**out, "into": generalization.output}


def _flow(mapping: dict) -> str:
    return yaml.safe_dump(mapping, default_flow_style=True, sort_keys=False, width=1000).strip()


def _snake(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return cleaned if re.match(r"[a-z]", cleaned) else f"p_{cleaned or 'pipeline'}"
