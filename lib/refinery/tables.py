"""The table registry: every table of the lake declared once.

A table has a name, the schema file its columns come from (`{kind}` is the pipeline's kind, e.g.
`text`), a scope, its partitioning, and the columns that may hold a person's data (what a deletion
request has to reach, and what never gets min/max statistics in the Delta log). Everything that
addresses a table (the lake, stages, ledger, releases, card, loader) goes through `key` and `parse_key`.

A table's *key* is its identity inside the lake, independent of where the lake is mounted:
`gold/web_text` (per pipeline), `_refinery/runs` (system), `releases/web_text/v1` (a release's copy of
gold), `raw/web_text` (the landing folder: files, not a Delta table). The ledger, the release records
and the ingest file log store keys and lake-relative names only, so a lake that is copied, moved or
mounted under another prefix keeps its lineage.

This module imports nothing from Spark: the Spark-free training loader resolves releases through it.
"""

from __future__ import annotations

from dataclasses import dataclass

PIPELINE, SYSTEM, RELEASE = "pipeline", "system", "release"  # scopes
SYSTEM_FOLDER = "_refinery"
RELEASES_FOLDER = "releases"


@dataclass(frozen=True)
class Table:
    """One table of the lake (see the module docstring)."""

    name: str
    schema: str | None  # schema file under schemas/ ({kind} = the pipeline's kind); None: not a Delta table
    scope: str
    partition_by: tuple[str, ...] = ()
    personal: tuple[str, ...] = ()  # columns that may hold a person's data (a schema file can mark more)
    description: str = ""
    partition_by_kind: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (kind, columns) where a kind differs

    def partitioning(self, kind: str) -> tuple[str, ...]:
        """The partition columns of this table in pipelines of `kind`."""
        return dict(self.partition_by_kind).get(kind, self.partition_by)

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


_DOCUMENT = ("doc_id", "text", "url", "source", "meta", "_file")  # what a raw record brings with it
_GOLD_LAYOUT = {  # releases too; record data has no language
    "partition_by": ("split", "lang"),
    "partition_by_kind": (("tabular", ("split",)),),
    "personal": ("doc_id", "text", "url", "source"),
}

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("raw", None, PIPELINE, personal=("*",), description="landing folder of raw files (any layout)"),
        Table("bronze", "{kind}/bronze", PIPELINE, personal=_DOCUMENT, description="typed raw records"),
        Table("silver", "{kind}/silver", PIPELINE, personal=_DOCUMENT, description="curated records"),
        Table("silver_dedup", "{kind}/silver", PIPELINE, personal=_DOCUMENT, description="deduplicated silver"),
        Table("gold", "{kind}/gold", PIPELINE, **_GOLD_LAYOUT, description="training layout"),
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
        Table("release", "{kind}/gold", RELEASE, **_GOLD_LAYOUT, description="a release's frozen copy of gold"),
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


def release_manifest_key(pipeline: str, release: str) -> str:
    """Where a catalog lake keeps a release's pointer for Spark-free readers: `releases/<pipeline>/<name>.json`
    under the lake root, holding the release table's storage location and version (refinery.releases)."""
    return f"{TABLES['release'].key(pipeline, release)}.json"
