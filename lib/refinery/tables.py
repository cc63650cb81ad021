"""The table registry: every table of the lake declared once.

A table has a name, the schema file its columns come from (`schemas/<file>.yaml`; `{kind}` is the pipeline's
kind, e.g. `text`), a scope, its partitioning, and the columns that may hold a person's data (what a deletion
request has to reach, and what never gets min/max statistics in the Delta log): the registry names them for
tables every kind shares, a kind's schema file marks them (`personal: true`) for its own. Everything that
addresses a table (the lake, stages, ledger, releases, card, loader) goes through `key` and `parse_key`.

A table's *key* is its identity inside the lake, independent of where the lake is mounted:
`gold/web_text` (per pipeline), `_refinery/runs` (system), `releases/web_text/v1` (a release's copy of
gold), `raw/web_text` (the landing folder: files, not a Delta table). The ledger, the release records
and the ingest file log store keys and lake-relative names only, so a lake that is copied, moved or
mounted under another prefix keeps its lineage.

This module imports nothing from Spark: the Spark-free training loader resolves releases through it, and the
config is checked against the columns (`columns`) before the JVM starts; `refinery.lake.schemas` makes Spark
types of them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from refinery.errors import ConfigError
from refinery.paths import project_root

PIPELINE, SYSTEM, RELEASE = "pipeline", "system", "release"  # scopes
SYSTEM_FOLDER = "_refinery"
RELEASES_FOLDER = "releases"


@dataclass(frozen=True)
class Table:
    """One table of the lake (see the module docstring)."""

    name: str
    schema: str | None  # schema file under schemas/ ({kind} = the pipeline's kind); None: not a Delta table
    scope: str
    partition_by: tuple[str, ...] = ()  # those the kind's schema has (record data has no `lang`)
    personal: tuple[str, ...] = ()  # columns that may hold a person's data (a schema file marks a kind's own)
    description: str = ""

    def partitioning(self, kind: str, own: str | None = None) -> tuple[str, ...]:
        """The partition columns of this table in pipelines of `kind`: the declared ones its columns have."""
        names = [column.name for column in columns(self.name, kind, own)]
        return tuple(column for column in self.partition_by if column in names)

    def personal_columns(self, kind: str, own: str | None = None) -> tuple[str, ...]:
        """The columns that may hold a person's data: the registry's and those the schema file marks."""
        marked = (column.name for column in columns(self.name, kind, own) if column.personal)
        return tuple(dict.fromkeys((*self.personal, *marked)))

    def schema_name(self, kind: str) -> str:
        if self.schema is None:
            raise ValueError(f"{self.name} is a folder of files, not a Delta table")
        return self.schema.format(kind=kind)

    def key(self, pipeline: str | None = None, release: str | None = None) -> str:
        """The table's lake-relative identity."""
        if self.scope == SYSTEM:
            return f"{SYSTEM_FOLDER}/{self.name}"
        if not pipeline:
            raise ValueError(f"table '{self.name}' needs a pipeline name")
        if self.scope == RELEASE:
            if not release:
                raise ValueError("a release table needs a release name")
            return f"{RELEASES_FOLDER}/{pipeline}/{release}"
        return f"{self.name}/{pipeline}"


_GOLD_LAYOUT = ("split", "lang")  # gold's and releases' partitions (record data has no language)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("raw", None, PIPELINE, personal=("*",), description="landing folder of raw files (any layout)"),
        Table("bronze", "{kind}/bronze", PIPELINE, description="typed raw records"),
        Table("silver", "{kind}/silver", PIPELINE, description="curated records"),
        Table("silver_dedup", "{kind}/silver", PIPELINE, description="deduplicated silver"),
        Table("gold", "{kind}/gold", PIPELINE, partition_by=_GOLD_LAYOUT, description="training layout"),
        Table(
            "rejects",
            "rejects",
            PIPELINE,
            partition_by=("stage",),
            personal=("doc_id", "record", "detail", "_file"),
            description="every removed row, with its rule",
        ),
        Table(
            "signatures",
            "signatures",
            PIPELINE,
            personal=("doc_id", "signature", "bands"),
            description="MinHash signatures of deduped docs",
        ),
        Table("release", "{kind}/gold", RELEASE, partition_by=_GOLD_LAYOUT, description="a release's copy of gold"),
        Table("runs", "runs", SYSTEM, description="the run ledger"),
        Table("releases", "releases", SYSTEM, description="release name -> its copy and lineage"),
        Table(
            "ingest_files",
            "ingest_files",
            SYSTEM,
            personal=("path",),  # a raw file's name may hold one
            description="write-ahead log of ingested raw files",
        ),
        Table("leases", "leases", SYSTEM, partition_by=("pipeline",), description="one writer per pipeline"),
        Table("forgotten", "forgotten", SYSTEM, description="keyed hashes of deletion requests (tombstones)"),
        Table(
            "forget_log",
            "forget_log",
            SYSTEM,
            personal=("item",),  # a raw file's name may hold one
            description="each forget's plan and end: an unfinished one is finished by the next",
        ),
    )
}
PIPELINE_TABLES = tuple(name for name, t in TABLES.items() if t.scope == PIPELINE and t.schema)
SYSTEM_TABLES = tuple(name for name, t in TABLES.items() if t.scope == SYSTEM)


def table(name: str) -> Table:
    """The declaration of table `name` (a ValueError naming the known tables otherwise)."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table '{name}' (known: {', '.join(TABLES)})") from None


@dataclass(frozen=True)
class Identity:
    """A parsed key: which table, of which pipeline and release."""

    table: Table
    pipeline: str | None = None
    release: str | None = None

    @property
    def key(self) -> str:
        return self.table.key(self.pipeline, self.release)


def parse_key(key: str) -> Identity:
    """The identity a key names (`gold/web_text`, `_refinery/runs`, `releases/web_text/v1`, `raw/web_text`)."""
    parts = key.strip("/").split("/")
    if len(parts) == 3 and parts[0] == RELEASES_FOLDER:
        return Identity(TABLES["release"], parts[1], parts[2])
    if len(parts) == 2:
        system = parts[0] == SYSTEM_FOLDER
        spec = TABLES.get(parts[1] if system else parts[0])
        if spec is not None and spec.scope == (SYSTEM if system else PIPELINE):
            return Identity(spec) if system else Identity(spec, parts[1])
    raise ValueError(f"'{key}' is not a table of the lake (e.g. gold/<pipeline>, _refinery/runs)")


RELEASE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def check_release_name(name: str) -> None:
    """A release name is lower-case letters, digits, '.', '_' or '-' (up to 64): it is part of a table's key."""
    if not RELEASE_NAME.fullmatch(name):
        raise ConfigError(f"release name '{name}': use lower-case letters, digits, '.', '_' or '-' (up to 64)")


FEATURE_FIT = "feature_fit"  # where a tabular gold commit, and each release of it, keeps its feature fit (JSON)


def release_manifest_key(pipeline: str, release: str) -> str:
    """Where a catalog lake keeps a release's pointer for Spark-free readers: `releases/<pipeline>/<name>.json`
    under the lake root, holding the release table's storage location and version (refinery.lake.releases)."""
    return f"{TABLES['release'].key(pipeline, release)}.json"


@dataclass(frozen=True)
class Column:
    """One declared column: its name, its type as written (`string`, `map<string,int>`), and what the file says."""

    name: str
    type: str
    nullable: bool = True
    personal: bool = False
    comment: str | None = None


def columns(table_name: str, kind: str = "text", own: str | None = None) -> tuple[Column, ...]:
    """The declared columns of registry table `table_name` in pipelines of `kind` (or in the pipeline's `own`
    schemas folder, when it declares the table)."""
    return schema_file(*schema_location(table_name, kind, own))[1]


def column_names(table_name: str, kind: str = "text", own: str | None = None) -> list[str]:
    return [column.name for column in columns(table_name, kind, own)]


def schema_location(table_name: str, kind: str, own: str | None = None) -> tuple[str, str | None]:
    """(schema name, folder) of a table: `<own>/<name>.yaml` when a pipeline's own folder has it (the kind's
    `bronze`, `silver` or `gold`), else the kind's schema in the packaged `schemas/`."""
    name = table(table_name).schema_name(kind)
    if own and (Path(own) / f"{name.rsplit('/', 1)[-1]}.yaml").exists():
        return name.rsplit("/", 1)[-1], own
    return name, None


def schema_file(name: str, schemas_dir: str | Path | None = None) -> tuple[str, tuple[Column, ...]]:
    """(description, columns) of `schemas/<name>.yaml` (e.g. 'rejects', 'text/bronze'), read once."""
    return _read_schema_file(str(Path(schemas_dir or project_root() / "schemas") / f"{name}.yaml"))


@functools.cache
def _read_schema_file(path: str) -> tuple[str, tuple[Column, ...]]:
    if not Path(path).exists():
        raise FileNotFoundError(f"no schema file {path}")
    spec = yaml.safe_load(Path(path).read_text())
    if "partition_by" in spec:
        raise ValueError(f"{path}: partitioning is declared in refinery/tables.py, not in a schema file")
    declared = tuple(
        Column(c["name"], c["type"], bool(c.get("nullable", True)), bool(c.get("personal")), c.get("comment"))
        for c in spec["columns"]
    )
    return spec.get("description", ""), declared
