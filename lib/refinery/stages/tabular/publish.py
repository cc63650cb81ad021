"""Publish for record data: silver's current rows -> gold, k-anonymous, split and encoded for a model.

Rows in k-anonymity classes below k (policy `suppress`) and rows without a label go to rejects. The split is
stratified by the label and grouped by `tabular.split_group`; a group already in gold keeps its split. The
feature fit (means, standard deviations, vocabularies) is made on the train split alone and stored with gold's
commit as `feature_fit`, which a release copies into its settings; every split is encoded with it.
"""

from __future__ import annotations

import json

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery import tables
from refinery.config.tabular import TabularConfig
from refinery.lake.gold import anonymity_report
from refinery.lake.schemas import TableSchema
from refinery.lake.store import TableRef, WriteResult
from refinery.rejects import K_ANONYMITY, MISSING_LABEL
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult
from refinery.stages.skeleton import Flagged, rebuild
from refinery.stages.tabular.feature_fit import fit_features
from refinery.transforms.rules import REJECT_RULE, Rule, flag_rejects, kept_rows, rejected_rows
from refinery.transforms.split import assign_stratified_split
from refinery.transforms.tabular.anonymity import flag_small_classes
from refinery.transforms.tabular.changes import current_rows
from refinery.transforms.tabular.fairness import SAMPLE_WEIGHT, add_sample_weight
from refinery.transforms.tabular.features import FeatureFit, encode_features


def flag_unpublishable(rows: DataFrame, cfg: TabularConfig) -> DataFrame:
    """Flag rows without a label, then (policy `suppress`) rows in k-anonymity classes below k.

    Requires: the label and the quasi-identifiers. Adds: the reject flags.
    """
    labelled = flag_rejects(rows, [Rule(MISSING_LABEL.name, F.col(cfg.label).isNull(), F.lit(f"{cfg.label} is null"))])
    privacy = cfg.anonymity
    if privacy.policy != "suppress" or not privacy.quasi_identifiers:
        return labelled
    return labelled.transform(flag_small_classes, quasi_identifiers=privacy.quasi_identifiers, k=privacy.k)


def encode(split: DataFrame, cfg: TabularConfig) -> tuple[DataFrame, FeatureFit]:
    """Fit the features on the train split, encode every split with that fit, and weigh the train rows."""
    features = cfg.features
    fit = fit_features(
        split,
        numeric=features.numeric,
        categorical=features.categorical,
        max_categories=features.max_categories,
        min_count=features.min_count,
    )
    encoded = split.transform(encode_features, fit=fit)
    attribute = cfg.fairness.sample_weight_by
    if attribute:
        train = encoded.where(F.col("split") == "train")
        weighted = train.transform(add_sample_weight, attribute=attribute, label=cfg.label)
        encoded = weighted.unionByName(encoded.where(F.col("split") != "train").withColumn(SAMPLE_WEIGHT, F.lit(None)))
    else:
        encoded = encoded.withColumn(SAMPLE_WEIGHT, F.lit(None).cast("double"))
    return encoded, fit


def flag(ctx: StageContext, silver: DataFrame, cache: Persisted) -> Flagged:
    """Silver's current rows flagged, split (a group already in gold keeps its split), encoded and in key order;
    gold's commit keeps the feature fit and the split settings."""
    cfg, publish = ctx.config.tabular, ctx.config.publish
    gold_ref = ctx.table(ctx.declared.writes)
    previous = None
    if ctx.lake.version(gold_ref) is not None:
        previous = ctx.lake.read(gold_ref, ctx.lake.version(gold_ref)).select(cfg.group, "split")
    flagged = cache.keep(current_rows(silver).transform(flag_unpublishable, cfg))
    per_rule = flagged.groupBy(REJECT_RULE).count().collect()  # one row per rule
    counts = {r[REJECT_RULE]: r["count"] for r in per_rule if r[REJECT_RULE] is not None}
    kept = kept_rows(flagged)
    split = cache.keep(
        assign_stratified_split(
            kept, ratios=publish.splits, stratum=cfg.label, group=cfg.group, salt=publish.salt, previous=previous
        )
    )
    gold, fit = encode(split, cfg)
    shuffle_key = F.xxhash64(F.lit(f"{publish.salt}:order"), F.col(cfg.key))
    gold = gold.withColumn("shuffle_key", shuffle_key).repartition("split").sortWithinPartitions("shuffle_key")
    anonymity = anonymity_report(kept, cfg.anonymity)  # after suppression: what gold holds
    before = anonymity_report(
        flagged.where(F.col(REJECT_RULE).isNull() | (F.col(REJECT_RULE) == K_ANONYMITY.name)), cfg.anonymity
    )
    metrics = {**split_counts(split), **(anonymity.as_metrics() if anonymity else {})}
    metrics.update(before.as_metrics("anonymity.before") if before else {})
    metrics["features.fitted_rows"] = str(fit.rows)
    settings = {
        tables.FEATURE_FIT: fit.to_json(),
        "splits": json.dumps(publish.splits, sort_keys=True),
        "salt": publish.salt,
        "group_key": cfg.group,
        "label": cfg.label,
    }

    def write(ref: TableRef, rows: DataFrame, schema: TableSchema) -> WriteResult:
        return ctx.lake.overwrite(ref, rows, schema, metadata=settings)

    rows_in = sum(r["count"] for r in per_rule)
    return Flagged(gold, rejected_rows(flagged), rows_in, counts, metrics, write=write)


def run(ctx: StageContext) -> StageResult:
    """Publish the latest silver version's current rows into gold (full refresh)."""
    return rebuild(ctx, flag)


def split_counts(split: DataFrame) -> dict[str, str]:
    """Rows per split (one small row each)."""
    return {f"rows.{r['split']}": str(r["count"]) for r in split.groupBy("split").count().collect()}
