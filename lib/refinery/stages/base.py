"""What every stage shares: its context, its result, the rejects writer, and the ledgered execution."""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery import pipelines
from refinery.config import Config
from refinery.errors import MissingInputError, UsageError
from refinery.lake.ledger import FAILED, OK, RUNNING, LedgerEntry, RunLedger
from refinery.lake.schemas import TableSchema, table_schema
from refinery.lake.store import Lake, TableRef, WriteResult
from refinery.paths import shown
from refinery.rejects import FORGOTTEN
from refinery.session.progress import StageProgress
from refinery.transforms.pii import redact_text

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 500
READ_PARTITIONS_PER_CORE = 4
_MIN_READ_PARTITIONS = "spark.sql.files.minPartitionNum"


class StageFailed(RuntimeError):
    """A stage raised; the ledger has a `failed` row with the (redacted) error."""

    def __init__(self, stage: str, error: str):
        super().__init__(f"stage {stage} failed: {error}")
        self.stage = stage
        self.error = error
        self.finished: list[StageResult] = []  # the stages of the run that finished before it


class ReconciliationError(RuntimeError):
    """A stage's rows in != rows out + rows rejected."""


@dataclass
class StageContext:
    """Everything a stage needs: session, config, lake, and the identity of this run."""

    spark: SparkSession
    config: Config
    lake: Lake
    run_id: str = field(default_factory=lambda: new_run_id())
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stage: pipelines.Stage | None = None  # the declared stage `execute` runs (None for a command: maintain, forget)
    full_refresh: bool = False  # stages that add to their output rebuild it instead (--full-refresh)
    _input_sizes: dict[TableRef, int] = field(default_factory=dict, init=False, repr=False)

    @property
    def pipeline(self) -> str:
        return self.config.pipeline

    @property
    def declared(self) -> pipelines.Stage:
        """The running stage's declaration: what it reads and writes."""
        if self.stage is None:
            raise RuntimeError("no declared stage is running in this context")
        return self.stage

    def table(self, layer: str) -> TableRef:
        return self.lake.table(layer, self.pipeline)

    def schema(self, table: str) -> TableSchema:
        return table_schema(table, self.config.kind, self.config.schemas)

    def read_input(self) -> tuple[TableRef, int, DataFrame]:
        """The latest version of the running stage's declared input, pinned: (ref, version, DataFrame at it)."""
        layer = self.declared.reads
        ref = self.table(layer)
        version = self.lake.version(ref)
        if version is None:
            raise MissingInputError(str(ref), self.config.pipeline_kind.writer_of(layer).name)
        self.size_shuffles(lambda: self.input_bytes(ref))
        return ref, version, self.lake.read(ref, version)

    def cores(self) -> int | None:
        """The cluster's task slots; None where the platform has no SparkContext (Spark Connect, serverless),
        which then sizes reads and tasks itself."""
        try:
            return self.spark.sparkContext.defaultParallelism
        except Exception as exc:  # noqa: BLE001 - Spark Connect raises its own error types here
            log.debug("no SparkContext (%s)", type(exc).__name__)
            return None

    def input_bytes(self, ref: TableRef) -> int:
        """The stored bytes of an input table, asked of Delta once per stage (shuffle and task sizing share it)."""
        if ref not in self._input_sizes:
            self._input_sizes[ref] = self.lake.size_bytes(ref)
        return self._input_sizes[ref]

    def reading_part(self, ref: TableRef, share: float) -> None:
        """The stage reads only `share` of `ref`'s rows (the new ones): tasks are sized by that part."""
        self._input_sizes[ref] = math.ceil(self.input_bytes(ref) * share)

    def spread_reads(self) -> None:
        """Read files in at least READ_PARTITIONS_PER_CORE partitions per core (unless `spark.conf` sets
        `spark.sql.files.minPartitionNum`): Spark packs whole raw files and Parquet row groups into read
        partitions by stored size, and with one partition per core the core holding the bigger one works
        alone at the end (bronze in 2 files of 48 and 29 MB made curate 24% slower on 2 cores)."""
        cores = self.cores()
        if cores is None or _MIN_READ_PARTITIONS in self.config.spark.conf:
            return
        self.spark.conf.set(_MIN_READ_PARTITIONS, str(READ_PARTITIONS_PER_CORE * cores))

    def in_short_tasks(self, df: DataFrame, input_bytes: int) -> DataFrame:
        """`df` dealt round robin into a partition per `spark.python_task_mb` of stored input, when that makes
        more partitions than reading does (READ_PARTITIONS_PER_CORE per core).

        Spark reads a Parquet row group in one task: at 1M documents curate (2.4 ms each) ran 8 tasks of five
        minutes, its last wave on one core, and the lease's renewal waited for a free core meanwhile.
        """
        per_task, cores = self.config.spark.python_task_mb, self.cores()
        if not per_task or cores is None:
            return df
        partitions = math.ceil(input_bytes / (per_task * 2**20))
        if partitions <= READ_PARTITIONS_PER_CORE * cores:
            return df
        log.info("%d tasks for %.1f MB of input", partitions, input_bytes / 2**20)
        return df.repartition(partitions)

    def size_shuffles(self, input_bytes: Callable[[], int]) -> None:
        """Shuffle partitions for this stage from its input size (`spark.shuffle_partition_mb`; off when unset,
        and then the size is never asked for)."""
        per_partition = self.config.spark.shuffle_partition_mb
        if not per_partition:
            return
        size = input_bytes()
        partitions = shuffle_partitions(size, per_partition, self.spark.sparkContext.defaultParallelism)
        self.spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
        log.info("shuffle partitions: %d for %.1f MB of input", partitions, size / 2**20)


@dataclass
class StageResult:
    """What a stage read, wrote and removed; counts must reconcile."""

    stage: str
    input: TableRef | None  # what it read (None: nothing, as for maintain)
    input_version: int | None
    output: TableRef | None
    output_version: int
    rows_in: int
    rows_out: int
    rows_rejected: int
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what a user must hear: said in the summary and the ledger

    @classmethod
    def of_writes(
        cls,
        stage: str,
        *,
        read: tuple[TableRef, int | None],
        output: TableRef,
        written: WriteResult,
        rejects: WriteResult,
        rejected_by_rule: dict[str, int],
        rows_in: int,
        metrics: dict[str, str],
        rows_out: int | None = None,
    ) -> StageResult:
        """The result of a stage that read one table version and wrote its output and its rejects.

        `rows_out` defaults to the rows the output write made (publish counts distinct docs instead).
        """
        return cls(
            stage=stage,
            input=read[0],
            input_version=read[1],
            output=output,
            output_version=written.version,
            rows_in=rows_in,
            rows_out=written.rows_written if rows_out is None else rows_out,
            rows_rejected=rejects.rows_written,
            rejected_by_rule=rejected_by_rule,
            metrics=metrics,
        )

    @classmethod
    def of_counts(
        cls,
        stage: str,
        *,
        read: tuple[TableRef | None, int | None] = (None, None),
        output: TableRef | None = None,
        output_version: int | None = 0,
        rows_in: int = 0,
        rows_out: int = 0,
        rejected_by_rule: dict[str, int] | None = None,
        metrics: dict[str, str] | None = None,
    ) -> StageResult:
        """A result whose rejected rows are the rows in less the rows out: an append or a MERGE that may have
        been made before (a replay writes nothing and still accounts for its rows), or a command that reads no
        one table (maintain, forget)."""
        return cls(
            stage=stage,
            input=read[0],
            input_version=read[1],
            output=output,
            output_version=output_version,
            rows_in=rows_in,
            rows_out=rows_out,
            rows_rejected=rows_in - rows_out,
            rejected_by_rule=rejected_by_rule or {},
            metrics=metrics or {},
        )

    def check_reconciles(self) -> None:
        if self.rows_in != self.rows_out + self.rows_rejected:
            raise ReconciliationError(
                f"{self.stage}: rows in {self.rows_in} != out {self.rows_out} + rejected {self.rows_rejected}"
            )
        if sum(self.rejected_by_rule.values()) != self.rows_rejected:
            raise ReconciliationError(f"{self.stage}: rejects by rule do not add up to {self.rows_rejected}")


def shuffle_partitions(input_bytes: int, mb_per_partition: int, cores: int) -> int:
    """One shuffle partition per `mb_per_partition` of input, and at least one per core."""
    return max(cores, math.ceil(input_bytes / (mb_per_partition * 2**20)))


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


_FORGOTTEN_WITHHELD = ("doc_id", "record")  # reject columns left null for a forgotten subject's rows


def write_rejects(
    ctx: StageContext,
    stage: str,
    rejected: DataFrame,
    txn: tuple[str, int] | None = None,
    counts: dict[str, int] | None = None,
    *,
    append: bool = False,
) -> tuple[WriteResult, dict[str, int]]:
    """Write a stage's rejects; return the write and the count per rule.

    The stage's rows in `rejects` are replaced (a stage that rebuilds its output), or with `append` they are
    added; with `txn` they are added at most once (a stage whose batches are numbered). Requires: `rule`,
    `detail`; optional `doc_id`, `record`, `_file`, `_line` (null when absent). A row of a forgotten subject
    keeps neither its id nor its record, only where it was read. Pass a persisted DataFrame: it is counted
    (unless the caller already did and passes `counts` per rule), then written.
    """
    schema = ctx.schema("rejects")
    present = set(rejected.columns)
    forgotten = F.col("rule") == FORGOTTEN.name

    def column(name: str, data_type) -> Column:
        value = F.col(name) if name in present else F.lit(None).cast(data_type)
        return (F.when(~forgotten, value) if name in _FORGOTTEN_WITHHELD else value).alias(name)

    columns = [column(f.name, f.dataType) for f in schema.struct.fields if f.name not in ("stage", "_run_id", "_at")]
    rows = rejected.select(
        *columns,
        F.lit(stage).alias("stage"),
        F.lit(ctx.run_id).alias("_run_id"),
        F.lit(ctx.started_at).alias("_at"),
    )
    by_rule = (
        counts
        if counts is not None
        else {row["rule"]: row["count"] for row in rejected.groupBy("rule").count().collect()}  # one row per rule
    )
    ref = ctx.table("rejects")
    if txn or append:
        return ctx.lake.append(ref, rows, schema, txn=txn), by_rule
    return ctx.lake.overwrite(ref, rows, schema, replace_where=f"stage = '{stage}'"), by_rule


def execute(ctx: StageContext, stage: str, body: Callable[[StageContext], StageResult]) -> StageResult:
    """Run one stage, check that its counts reconcile, and append its ledger row (ok or failed)."""
    ledger = RunLedger(ctx.lake)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    log.info("%s: started (run %s)", stage, ctx.run_id)

    def record(status: str, **fields) -> None:
        ledger.record(
            LedgerEntry(
                run_id=ctx.run_id,
                pipeline=ctx.pipeline,
                stage=stage,
                status=status,
                started_at=started,
                ended_at=None if status == RUNNING else datetime.now(UTC),
                config_hash=ctx.config.config_hash,
                **fields,
            )
        )

    kind = ctx.config.pipeline_kind
    ctx.stage = kind.stage(stage) if stage in kind.stage_names else None
    record(RUNNING)  # an attempt that is killed before it ends stays visible as `running`
    ctx._input_sizes.clear()  # sizes are asked once per stage: an earlier stage of this run may have rewritten them
    ctx.spread_reads()
    progress = StageProgress(
        ctx.spark, stage, group=f"{ctx.run_id}/{stage}", every_seconds=ctx.config.console.progress_seconds
    )
    try:
        with progress:
            result = body(ctx)
        result.check_reconciles()
    except UsageError as exc:  # bad usage, not a broken stage: the attempt ends failed, the CLI exits 2
        record(FAILED, error=describe_error(exc))
        raise
    except Exception as exc:
        error = describe_error(exc)
        try:
            record(FAILED, error=error)
        except Exception as unrecorded:  # a full disk, a lost connection: say so rather than trace
            error = f"{error}; the ledger could not record it: {describe_error(unrecorded)}"
        raise StageFailed(stage, error) from exc
    result.seconds = time.perf_counter() - clock
    if ctx.stage is not None and result.rows_in and not result.rows_out:
        result.warnings.append(f"rejected all {result.rows_in:,} rows it read ({_top_rules(result.rejected_by_rule)})")
    for warning in result.warnings:
        log.warning("%s: %s", stage, warning)
    metrics = {f"rejected.{rule}": str(n) for rule, n in sorted(result.rejected_by_rule.items())}
    metrics.update(result.metrics)
    if result.warnings:
        metrics["warnings"] = "; ".join(result.warnings)[:1000]
    metrics["seconds"] = f"{result.seconds:.2f}"
    record(
        OK,
        input_table=result.input.key if result.input else None,
        input_version=result.input_version,
        output_table=result.output.key if result.output else None,
        output_version=result.output_version,
        rows_in=result.rows_in,
        rows_out=result.rows_out,
        rows_rejected=result.rows_rejected,
        metrics=metrics,
    )
    log.info("%s: done in %.1fs", stage, result.seconds)
    return result


def _top_rules(by_rule: dict[str, int], shown: int = 3) -> str:
    ranked = sorted(by_rule.items(), key=lambda item: -item[1])
    return ", ".join(f"{rule} {count:,}" for rule, count in ranked[:shown]) + (", ..." if len(ranked) > shown else "")


def describe_error(exc: BaseException) -> str:
    """One line for users and the ledger: the error's class and first line, PII-redacted and truncated. A JVM
    error says what Spark was doing (its error class) and its root cause instead of py4j's `calling o123.save`."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # A Python worker's error arrives wrapped in a traceback: its last `SomeError: ...` line says what happened.
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    first_line = raised[-1] if "Traceback" in str(exc) and raised else (lines or [""])[0]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by: ")]
    if causes and "Traceback" not in str(exc):
        doing = next((m.group(1) for line in lines if (m := _SPARK_ERROR.search(line))), None)
        root = re.sub(r"^(?:[\w$]+\.)+(?=[\w$]+: )", "", causes[-1])  # the class's own name
        first_line = f"{doing}: {root}" if doing else root
        if _NO_SPACE in root:
            first_line += " (free space on that file system and rerun: the run resumes)"
    text = redact_text(shown(f"{type(exc).__name__}: {first_line}"))  # no PII, no credentials of a URI
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


_SPARK_ERROR = re.compile(r"(\[[A-Z_]+\] [^\n]*?)\.?(?: SQLSTATE: \w+|$)")  # `[TASK_WRITE_FAILED] Task failed ...`
_NO_SPACE = "No space left on device"
