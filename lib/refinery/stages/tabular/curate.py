"""Curate for record data: bronze change records -> silver, the current state (one row per key), by MERGE.

Every bronze row is judged by the declared expectations (a delete only needs its key), its direct identifiers
become keyed tokens and its quasi-identifiers are generalized; of the changes that pass, the one with the
highest sequence per key is merged into silver and the others are rejects with rule `superseded`. So every
bronze row ends in silver or in rejects, and a rerun (or a change delivered again) merges nothing new; after a
config change the MERGE rewrites exactly the rows whose curated values differ, and removes the keys whose
changes are all rejected now.
Aggregate expectations and `warn` ones are measured in the same pass: a `fail` one out of bounds stops the
stage before anything is written, naming the expectation and its measure.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config.tabular import TabularConfig
from refinery.lake.changes import apply_changes
from refinery.lake.schemas import TableSchema
from refinery.lake.store import TableRef, WriteResult
from refinery.privacy.keys import privacy_key
from refinery.rejects import MISSING_KEY
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult
from refinery.stages.skeleton import Flagged, rebuild
from refinery.transforms.pseudonyms import Pseudonymizer, pseudonymize_columns
from refinery.transforms.rules import REJECT_RULE, Rule, flag_rejects, kept_rows, rejected_rows
from refinery.transforms.tabular.anonymity import generalize
from refinery.transforms.tabular.changes import DELETE, OP, flag_superseded
from refinery.transforms.tabular.expectations import Verdict, flag_expectations, measure_expectations, verdicts


class ExpectationFailed(RuntimeError):
    """A `fail` expectation does not hold: the stage stops (exit 1) and the ledger names it and its measure."""


def judge_changes(bronze: DataFrame, cfg: TabularConfig) -> DataFrame:
    """Bronze changes with reject flags: a null key, then the `drop` expectations (inserts and updates only: a
    delete carries its key alone), then `superseded`.

    Requires: the bronze columns. Adds: the reject flags.
    """
    key_rule = Rule(MISSING_KEY.name, F.col(cfg.key).isNull(), F.lit(f"{cfg.key} is null"))
    keyed = flag_rejects(bronze, [key_rule])
    is_delete = F.col(OP) == DELETE
    judged = keyed.where(~is_delete).transform(flag_expectations, cfg.expectations)
    changes = judged.unionByName(keyed.where(is_delete))
    return changes.transform(flag_superseded, key=cfg.key)


def protect(changes: DataFrame, cfg: TabularConfig, pseudonymizer: Pseudonymizer | None) -> DataFrame:
    """Direct identifiers (the key among them when declared) as keyed tokens, quasi-identifiers generalized.

    Requires: the identifier and generalized columns. Rewrites them (generalized ones under their `into` name).
    """
    if cfg.identifiers and pseudonymizer is None:
        raise ValueError("identifier columns are declared: a pseudonymizer is needed")
    tokens = changes.transform(pseudonymize_columns, columns=cfg.identifiers, pseudonymizer=pseudonymizer)
    return tokens.transform(generalize, generalizations=cfg.generalize)


def check_expectations(measured: list[Verdict]) -> dict[str, str]:
    """Raise ExpectationFailed for the first `fail` expectation that does not hold; the measures as metrics."""
    for verdict in measured:
        if verdict.expectation.severity == "fail" and not verdict.holds:
            raise ExpectationFailed(f"expectation {verdict.describe()} (severity fail)")
    return {f"expect.{v.expectation.name}": f"{v.measured:g}" for v in measured}


def measure(bronze: DataFrame, cfg: TabularConfig) -> list[Verdict]:
    """Every expectation measured over bronze's inserts and updates, on their raw values (one aggregation)."""
    measures = measure_expectations(bronze.where(F.col(OP) != DELETE), cfg.expectations).first()  # one row
    return verdicts(measures, cfg.expectations)


def flag(ctx: StageContext, bronze: DataFrame, cache: Persisted) -> Flagged:
    """Every change judged and protected; the winners are MERGEd into silver (rows out: the winning changes)."""
    cfg = ctx.config.tabular
    pseudonymizer = None
    if cfg.identifiers:
        pseudonymizer = Pseudonymizer(privacy_key(ctx.config.privacy, ctx.spark), ctx.config.privacy.token_chars)
    data_columns = [c for c in ctx.schema("silver").column_names if not c.startswith("_") and c != "doc_id"]
    changes = cache.keep(
        bronze.transform(judge_changes, cfg)
        .transform(protect, cfg, pseudonymizer)
        .withColumn("record", F.to_json(F.struct(*data_columns)))
    )
    metrics = check_expectations(measure(bronze, cfg))
    counts = {row[REJECT_RULE]: row["count"] for row in changes.groupBy(REJECT_RULE).count().collect()}
    rows_out = counts.pop(None, 0)

    def merge(ref: TableRef, rows: DataFrame, schema: TableSchema) -> WriteResult:
        merged = apply_changes(ctx.lake, ref, rows, schema, key=cfg.key, complete=True)
        metrics["silver.rows_merged"] = str(merged.rows_written)
        return merged

    rows_in = sum(counts.values()) + rows_out
    return Flagged(kept_rows(changes), rejected_rows(changes), rows_in, counts, metrics, rows_out=rows_out, write=merge)


def run(ctx: StageContext) -> StageResult:
    """Merge the latest bronze version's winning changes into silver; the rest to rejects."""
    return rebuild(ctx, flag)
