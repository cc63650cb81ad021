"""Named releases: `refinery release create | list | show`.

A release freezes one gold version as a Delta table of its own (`<lake>/releases/<pipeline>/<name>`),
written file for file in gold's layout. It is a copy, not a SHALLOW CLONE: a shallow clone points at
gold's data files, and VACUUM of gold deletes those once a later publish has replaced them. A copy
stays readable after any VACUUM and beyond Delta's retention window, at the cost of its storage.
The releases table (`<lake>/_refinery/releases`) maps each name to its copy and records what it holds:
the gold version, the publish run and its config hash, code version, input versions and counts. Tables
are recorded by their lake-relative keys (`releases/web_text/v1`, `gold/web_text`), so the records stay
true when the lake is copied or mounted elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from importlib import metadata

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery import tables
from refinery.config import Config
from refinery.errors import InputNotFoundError, MissingInputError, ReleaseExistsError
from refinery.lake.gold import gold_totals, pack_files_into_partitions, parquet_row_groups
from refinery.lake.ledger import run_that_wrote
from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake, TableRef
from refinery.paths import project_root


def create_release(lake: Lake, config: Config, name: str) -> tuple[Row, bool]:
    """Freeze the current gold version as release `name`; (release, created). Rerunning is a no-op.

    Fails (ReleaseExistsError) when the name is taken by another gold version, InputNotFoundError without gold.
    """
    tables.check_release_name(name)
    pipeline, kind = config.pipeline, config.pipeline_kind
    gold_ref = lake.table(kind.last.writes, pipeline)
    gold_version = last_write(lake, gold_ref)
    if gold_version is None:
        raise MissingInputError(str(gold_ref), kind.last.name)
    existing = find_release(lake, pipeline, name)
    if existing is not None:
        if existing.gold_version == gold_version:
            return existing, False
        raise ReleaseExistsError(
            f"release '{name}' already exists for gold version {existing.gold_version} (gold is now at "
            f"version {gold_version}); choose a new name"
        )
    target = lake.release_table(pipeline, name)
    with parquet_row_groups(lake.spark, config.publish.row_group_mb):
        written = _copy_gold(lake, gold_ref, gold_version, target, table_schema("release", config.kind, config.schemas))
    copy = lake.read(target, written.version)
    counts = {key: int(value) for key, value in gold_totals(copy).items()}
    publish = run_that_wrote(lake, kind.last.name, gold_ref, gold_version)
    record = {
        "pipeline": pipeline,
        "name": name,
        "created_at": datetime.now(UTC),
        "table": target.key,
        "table_version": written.version,
        "gold_table": gold_ref.key,
        "gold_version": gold_version,
        "publish_run_id": publish["run_id"] if publish else None,
        "config_hash": publish["config_hash"] if publish else None,
        "code_version": code_version(),
        "input_versions": input_versions(lake, config, publish),
        "counts": counts,
        "settings": lake.commit_metadata(gold_ref, gold_version),  # what publish recorded with that version
    }
    schema = table_schema("releases")
    row = lake.spark.createDataFrame([tuple(record[c] for c in schema.column_names)], schema.struct)
    lake.append(lake.table("releases"), row, schema)
    write_pointer(lake, pipeline, name, target, written.version)
    return find_release(lake, pipeline, name), True


def write_pointer(lake: Lake, pipeline: str, name: str, target: TableRef, version: int) -> None:
    """For a catalog table (Spark-free readers cannot resolve its name), a pointer file to its location and
    version; nothing for a table addressed by path."""
    if target.name:
        manifest = {"pipeline": pipeline, "name": name, "table": target.name, "table_version": version}
        manifest["location"] = lake.location(target)
        lake.write_text(tables.release_manifest_key(pipeline, name), json.dumps(manifest, sort_keys=True))


def list_releases(lake: Lake, pipeline: str) -> list[Row]:
    """The pipeline's releases, oldest first (one row each: the releases table is small)."""
    ref = lake.table("releases")
    if not lake.exists(ref):
        return []
    rows = lake.read(ref).where(F.col("pipeline") == pipeline).orderBy("created_at", "name").collect()
    return rows


def find_release(lake: Lake, pipeline: str, name: str) -> Row | None:
    return next((r for r in list_releases(lake, pipeline) if r.name == name), None)


def read_release(lake: Lake, pipeline: str, name: str) -> DataFrame:
    """The rows of release `name`, as frozen."""
    release = find_release(lake, pipeline, name)
    if release is None:
        raise release_not_found(pipeline, name)
    return lake.read(lake.resolve(release.table), release.table_version)


def release_not_found(pipeline: str, name: str) -> InputNotFoundError:
    return InputNotFoundError(f"no release '{name}' for pipeline {pipeline}; `refinery release list` shows them")


def code_version() -> str:
    """refinery's package version, plus the git commit when running from a checkout."""
    version = metadata.version("refinery")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def _copy_gold(lake: Lake, gold_ref: TableRef, version: int, target: TableRef, schema):
    """Write gold at `version` into `target`, one file per gold file, rows in the same order."""
    return copy_in_layout(lake, with_source_files(lake.read(gold_ref, version)), target, schema)


def with_source_files(table: DataFrame) -> DataFrame:
    """Gold's (or a release's) rows with `_source_file` and `_source_bytes`: the data file each was read from."""
    return table.withColumns(
        {"_source_file": F.col("_metadata.file_path"), "_source_bytes": F.col("_metadata.file_size")}
    )


def copy_in_layout(lake: Lake, rows: DataFrame, target: TableRef, schema):
    """Overwrite `target` with `rows` (from `with_source_files`, maybe filtered), one file per source file,
    rows in shuffle order inside each: the training layout survives a copy or a deletion."""
    described = ["_source_file", "_source_bytes", *schema.partition_by]
    files = rows.select(*described).distinct().orderBy("_source_file").collect()  # one row per file
    index = F.array_position(F.array(*[F.lit(f["_source_file"]) for f in files]), F.col("_source_file")) - 1
    copied = (
        rows.withColumn("_file_index", index.cast("int"))
        .transform(
            pack_files_into_partitions,
            file_index="_file_index",
            file_bytes=[f["_source_bytes"] for f in files],
            file_groups=[tuple(f[name] for name in schema.partition_by) for f in files],
        )
        .drop("_file_index", "_source_file", "_source_bytes")
        .sortWithinPartitions(*schema.partition_by, "shuffle_key")
    )
    return lake.overwrite(target, copied, schema)


def last_write(lake: Lake, gold_ref: TableRef) -> int | None:
    """The latest version that wrote the table's rows (VACUUM and OPTIMIZE add versions of their own): gold's
    by publish, a release's by its copy or a forget's rewrite."""
    if not lake.exists(gold_ref):
        return None
    last = lake.delta_table(gold_ref).history().where("operation = 'WRITE'").agg(F.max("version")).first()[0]
    return None if last is None else int(last)


def input_versions(lake: Lake, config: Config, publish: Row | None) -> dict[str, int]:
    """The versions gold was built from, following the ledger upstream (for text: silver_dedup, silver, bronze)."""
    versions: dict[str, int] = {}
    if publish is None:
        return versions
    version = publish["input_version"]
    kind = config.pipeline_kind
    for layer, writer in kind.upstream(kind.last.name):
        if version is None:
            break
        versions[layer] = int(version)
        writer_run = run_that_wrote(lake, writer, lake.table(layer, config.pipeline), version)
        version = writer_run["input_version"] if writer_run else None
    return versions
