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

from refinery.changes import current_rows
from refinery.feature_fit import fit_features
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.tabular_config import TabularConfig
from refinery.transforms.anonymity import AnonymityReport, flag_small_classes, measure_anonymity
from refinery.transforms.fairness import SAMPLE_WEIGHT, add_sample_weight
from refinery.transforms.features import FeatureFit, encode_features
from refinery.transforms.rules import REJECT_RULE, Rule, flag_rejects, kept_rows, rejected_rows
from refinery.transforms.split import assign_stratified_split
from refinery.transforms.tabular_params import AnonymityParams

STAGE = "publish"
MISSING_LABEL = "missing_label"
FEATURE_FIT = "feature_fit"  # the key of the fit in gold's commit metadata and a release's settings


def flag_unpublishable(rows: DataFrame, cfg: TabularConfig) -> DataFrame:
    """Flag rows without a label, then (policy `suppress`) rows in k-anonymity classes below k.

    Requires: the label and the quasi-identifiers. Adds: the reject flags.
    """
    labelled = flag_rejects(rows, [Rule(MISSING_LABEL, F.col(cfg.label).isNull(), F.lit(f"{cfg.label} is null"))])
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


def run(ctx: StageContext) -> StageResult:
    """Publish the latest silver version's current rows into gold (full refresh)."""
    cfg, publish = ctx.config.tabular, ctx.config.publish
    silver_ref, silver_version, silver = ctx.read_input("silver")
    gold_ref = ctx.table("gold")
    previous = None
    if ctx.lake.version(gold_ref) is not None:
        previous = ctx.lake.read(gold_ref, ctx.lake.version(gold_ref)).select(cfg.group, "split")
    with Persisted() as cache:
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
        anonymity = anonymity_report(kept, cfg.anonymity)
        metrics = {**split_counts(split), **(anonymity.as_metrics() if anonymity else {})}
        metrics["features.fitted_rows"] = str(fit.rows)
        settings = {
            FEATURE_FIT: fit.to_json(),
            "splits": json.dumps(publish.splits, sort_keys=True),
            "salt": publish.salt,
            "group_key": cfg.group,
            "label": cfg.label,
        }
        written = ctx.lake.overwrite(gold_ref, gold, ctx.schema("gold"), metadata=settings)
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(flagged), counts=counts)
    return StageResult.of_writes(
        STAGE,
        read=(silver_ref, silver_version),
        output=gold_ref,
        written=written,
        rejects=rejects,
        rejected_by_rule=by_rule,
        rows_in=sum(r["count"] for r in per_rule),
        metrics=metrics,
    )


def split_counts(split: DataFrame) -> dict[str, str]:
    """Rows per split (one small row each)."""
    return {f"rows.{r['split']}": str(r["count"]) for r in split.groupBy("split").count().collect()}


def anonymity_report(rows: DataFrame, privacy: AnonymityParams) -> AnonymityReport | None:
    """k-anonymity and l-diversity of `rows` over the quasi-identifiers (None when none is declared)."""
    if not privacy.quasi_identifiers:
        return None
    measured = measure_anonymity(
        rows,
        quasi_identifiers=privacy.quasi_identifiers,
        k=privacy.k,
        sensitive=privacy.sensitive,
        l_diversity=privacy.l_diversity,
    ).first()  # one row
    return AnonymityReport.from_row(measured)
