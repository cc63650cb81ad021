"""Features fitted on the train split only: no validation or test value moves a statistic or enters a
vocabulary; unseen categories map to `<unk>`; the fit round-trips through JSON."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from refinery.stages.tabular.feature_fit import fit_features
from refinery.transforms.tabular.features import FeatureFit, encode_features

DDL = "id string, split string, income double, segment string"
TRAIN = [("t1", "train", 10.0, "retail"), ("t2", "train", 20.0, "retail"), ("t3", "train", 30.0, "premium")]
HELD_OUT = [("v1", "validation", 1e9, "platinum"), ("s1", "test", None, None), ("s2", "test", 20.0, "premium")]


def fit(spark, rows):
    return fit_features(spark.createDataFrame(rows, DDL), numeric=["income"], categorical=["segment"])


def test_the_fit_sees_the_train_split_only(spark):
    fitted = fit(spark, TRAIN + HELD_OUT)
    assert fitted.rows == 3 and fitted.categorical == {"segment": ["retail", "premium"]}
    mean, std = fitted.numeric["income"]
    assert mean == pytest.approx(20.0) and std == pytest.approx((200 / 3) ** 0.5)
    changed = [(i, s, -5.0 if v is not None else 7.0, "business") for i, s, v, _ in HELD_OUT]
    assert fit(spark, TRAIN + changed) == fitted  # other held-out values: the same fit
    assert fit(spark, TRAIN) == fitted


def test_every_split_is_encoded_with_the_train_fit(spark):
    fitted = fit(spark, TRAIN + HELD_OUT)
    _, std = fitted.numeric["income"]
    encoded = encode_features(spark.createDataFrame(TRAIN + HELD_OUT, DDL), fit=fitted)
    expected = spark.createDataFrame(
        [
            ("t1", -10 / std, 1),
            ("t2", 0.0, 1),
            ("t3", 10 / std, 2),
            ("v1", (1e9 - 20) / std, 0),  # an unseen category is <unk>
            ("s1", 0.0, 0),  # a null is the mean, and <unk>
            ("s2", 0.0, 2),
        ],
        "id string, income_z double, segment_idx int",
    )
    assert_df_equality(
        encoded.select("id", "income_z", "segment_idx"),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
        allow_nan_equality=True,
    )
    assert FeatureFit.from_json(fitted.to_json()) == fitted
