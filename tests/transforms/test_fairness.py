"""Fairness figures per split and group on a crafted table, and reweighing that makes group and label
independent."""

from __future__ import annotations

import pytest

from refinery.transforms.tabular.fairness import add_sample_weight, fairness_table

DDL = "id int, split string, gender string, churned int"
# train: f 4 rows (1 positive), m 4 rows (3 positive), x 2 rows (1 positive); test: f 2 (0), m 2 (1)
ROWS = (
    [(i, "train", "f", int(i == 0)) for i in range(4)]
    + [(10 + i, "train", "m", int(i < 3)) for i in range(4)]
    + [(20 + i, "train", "x", int(i == 0)) for i in range(2)]
    + [(30 + i, "test", "f", 0) for i in range(2)]
    + [(40 + i, "test", "m", int(i == 0)) for i in range(2)]
)


def test_shares_label_rates_and_parity_per_split(spark):
    df = spark.createDataFrame(ROWS, DDL)
    reference = spark.createDataFrame([("f",)] * 5 + [("m",)] * 4 + [("x",)] * 1, "gender string")
    table = fairness_table(df, reference, attribute="gender", label="churned", min_group_rows=3)
    got = {(r.split, r.group): r for r in table.collect()}
    assert set(got) == {("train", "f"), ("train", "m"), ("train", "x"), ("test", "f"), ("test", "m")}
    f = got[("train", "f")]
    assert (f.rows, f.share, f.label_rate, f.reference_share, f.small) == (4, 0.4, 0.25, 0.5, False)
    assert f.share_gap == pytest.approx(-0.1)
    assert got[("train", "x")].small and got[("train", "x")].label_rate == 0.5
    assert f.parity_difference == 0.5 and f.parity_ratio == pytest.approx(1 / 3)  # 0.75 (m) against 0.25 (f)
    assert (f.label_rate_low, f.label_rate_high) == (pytest.approx(0.0456, abs=1e-3), pytest.approx(0.6994, abs=1e-3))
    test_m = got[("test", "m")]  # both test groups have 2 rows: too small to compare, so no parity figure
    assert (test_m.small, test_m.parity_difference, test_m.parity_ratio) == (True, None, None)


def test_reweighing_makes_group_and_label_independent(spark):
    weighted = add_sample_weight(spark.createDataFrame(ROWS, DDL), attribute="gender", label="churned").collect()
    total = sum(r.sample_weight for r in weighted)
    assert total == pytest.approx(len(ROWS))
    positive_share = sum(r.sample_weight for r in weighted if r.churned) / total
    for gender in ("f", "m", "x"):
        rows = [r for r in weighted if r.gender == gender]
        rate = sum(r.sample_weight for r in rows if r.churned) / sum(r.sample_weight for r in rows)
        assert rate == pytest.approx(positive_share), gender
