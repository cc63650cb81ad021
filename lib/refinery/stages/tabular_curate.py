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

from refinery.changes import DELETE, OP, apply_changes, flag_superseded
from refinery.keys import privacy_key
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.tabular_config import TabularConfig
from refinery.transforms.anonymity import generalize
from refinery.transforms.expectations import Verdict, flag_expectations, measure_expectations, verdicts
from refinery.transforms.pseudonyms import Pseudonymizer, pseudonymize_columns
from refinery.transforms.rules import REJECT_RULE, Rule, flag_rejects, kept_rows, rejected_rows

STAGE = "curate"
MISSING_KEY = "missing_key"


class ExpectationFailed(RuntimeError):
    """A `fail` expectation does not hold: the stage stops (exit 1) and the ledger names it and its measure."""


def judge_changes(bronze: DataFrame, cfg: TabularConfig) -> DataFrame:
    """Bronze changes with reject flags: a null key, then the `drop` expectations (inserts and updates only: a
    delete carries its key alone), then `superseded`.

    Requires: the bronze columns. Adds: the reject flags.
    """
    key_rule = Rule(MISSING_KEY, F.col(cfg.key).isNull(), F.lit(f"{cfg.key} is null"))
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


def run(ctx: StageContext) -> StageResult:
    """Merge the latest bronze version's winning changes into silver; the rest to rejects."""
    cfg = ctx.config.tabular
    bronze_ref, bronze_version, bronze = ctx.read_input("bronze")
    pseudonymizer = None
    if cfg.identifiers:
        pseudonymizer = Pseudonymizer(privacy_key(ctx.config.privacy, ctx.spark), ctx.config.privacy.token_chars)
    silver_schema = ctx.schema("silver")
    data_columns = [c for c in silver_schema.column_names if not c.startswith("_") and c != "doc_id"]
    with Persisted() as cache:
        changes = cache.keep(
            bronze.transform(judge_changes, cfg)
            .transform(protect, cfg, pseudonymizer)
            .withColumn("record", F.to_json(F.struct(*data_columns)))
        )
        metrics = check_expectations(measure(bronze, cfg))
        counts = {row[REJECT_RULE]: row["count"] for row in changes.groupBy(REJECT_RULE).count().collect()}
        rows_out = counts.pop(None, 0)
        silver = apply_changes(
            ctx.lake, ctx.table("silver"), kept_rows(changes), silver_schema, key=cfg.key, complete=True
        )
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(changes), counts=counts)
    metrics["silver.rows_merged"] = str(silver.rows_written)
    return StageResult.of_writes(
        STAGE,
        read=(bronze_ref, bronze_version),
        output=ctx.table("silver"),
        written=silver,
        rejects=rejects,
        rejected_by_rule=by_rule,
        rows_in=sum(counts.values()) + rows_out,
        rows_out=rows_out,
        metrics=metrics,
    )
