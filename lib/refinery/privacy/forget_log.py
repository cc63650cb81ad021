"""The forget log (`_refinery/forget_log`): what each `refinery forget` set out to do, and that it finished.

Before it deletes anything, a forget appends its plan in one commit: the requests' keyed hashes, the documents it
found (keyed hashes of their ids, as a doc_id request would hash them: a table that holds a document only in a
form no request matches, as gold holds a text whose address was redacted, still gives it up), the raw files that
may hold a match (their logged names) and the tables it may change (their keys). At its very end it appends
`done`, and the hashes of the documents it found are removed (with their bytes). A forget killed in between
leaves a plan without `done`; the next forget (the same command again, another request, or `--resume`) reads it,
takes its raw files and tables as its own, and ends it. So a deletion request is driven to completion from durable
state even when the tables it cleaned no longer show what it matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake
from refinery.transforms.forgotten import tombstone_hash

REQUEST, DOCUMENT, RAW_FILE, TABLE, DONE = "request", "document", "raw_file", "table", "done"


@dataclass(frozen=True)
class Unfinished:
    """What forgets killed before their end had planned: their runs, raw files and tables."""

    runs: tuple[str, ...] = ()
    documents: frozenset[str] = frozenset()  # keyed hashes of the ids they found (see the module docstring)
    raw_files: frozenset[str] = frozenset()
    tables: frozenset[str] = frozenset()


class ForgetLog:
    """Reads and appends one pipeline's rows of the forget log."""

    def __init__(self, lake: Lake, pipeline: str):
        self.lake, self.pipeline = lake, pipeline
        self.ref, self.schema = lake.table("forget_log"), table_schema("forget_log")

    def unfinished(self) -> Unfinished:
        """The plans no `done` row ends (one small row per planned item)."""
        if not self.lake.exists(self.ref):
            return Unfinished()
        rows = self.lake.read(self.ref).where(F.col("pipeline") == self.pipeline)
        ended = rows.where(F.col("kind") == DONE).select(F.col("item").alias("run_id"))  # a done row names its run
        open_items = rows.where(F.col("kind") != DONE).join(ended, "run_id", "left_anti").collect()
        return Unfinished(
            runs=tuple(sorted({r["run_id"] for r in open_items})),
            documents=frozenset(r["item"] for r in open_items if r["kind"] == DOCUMENT),
            raw_files=frozenset(r["item"] for r in open_items if r["kind"] == RAW_FILE),
            tables=frozenset(r["item"] for r in open_items if r["kind"] == TABLE),
        )

    def plan(
        self,
        run_id: str,
        *,
        requests: Iterable[str],
        documents: DataFrame,
        key: bytes,
        raw_files: Iterable[str],
        tables: Iterable[str],
    ) -> None:
        """Append a forget's plan in one commit: `documents` is a `doc_id` column, hashed here under `key`."""
        items = [(REQUEST, h) for h in requests] + [(RAW_FILE, n) for n in raw_files] + [(TABLE, k) for k in tables]
        at = datetime.now(UTC)
        listed = self._rows(run_id, items, at)
        hashed = documents.select(
            F.lit(self.pipeline).alias("pipeline"),
            F.lit(run_id).alias("run_id"),
            F.lit(DOCUMENT).alias("kind"),
            _doc_id_hashes(key)(F.col("doc_id")).alias("item"),
            F.lit(at).alias("at"),
        )
        self.lake.append(self.ref, listed.unionByName(hashed), self.schema)

    def finish(self, run_id: str, runs: Iterable[str]) -> None:
        """Append `done` for `runs` (this run and the unfinished ones it took over), by this run; then remove the
        hashes of the documents every ended run found, and their bytes (VACUUM): an ended forget keeps no trace
        that could name a document it removed."""
        self._append(run_id, [(DONE, run) for run in runs])
        rows = self.lake.read(self.ref).where(F.col("pipeline") == self.pipeline)
        ended = rows.where(F.col("kind") == DONE).select(F.col("item").alias("run_id")).distinct()
        found = rows.where(F.col("kind") == DOCUMENT).join(ended, "run_id", "left_semi").select("run_id", "kind")
        removed = self.lake.delete_matching(self.ref, found.distinct(), "t.run_id = s.run_id AND t.kind = s.kind")
        if removed.committed and removed.rows_written:
            self.lake.vacuum(self.ref, 0)

    def _append(self, run_id: str, items: list[tuple[str, str]]) -> None:
        if items:
            self.lake.append(self.ref, self._rows(run_id, items, datetime.now(UTC)), self.schema)

    def _rows(self, run_id: str, items: list[tuple[str, str]], at: datetime) -> DataFrame:
        rows = [Row(pipeline=self.pipeline, run_id=run_id, kind=kind, item=item, at=at) for kind, item in items]
        return self.lake.spark.createDataFrame(rows, self.schema.struct)


def _doc_id_hashes(key: bytes):
    """A UDF hashing doc ids as a doc_id request is hashed; the key stays in its closure, out of every plan."""

    @pandas_udf(StringType())
    def hashed(doc_ids: pd.Series) -> pd.Series:
        return doc_ids.map(lambda doc_id: tombstone_hash(key, "doc_id", "", doc_id))

    return hashed
