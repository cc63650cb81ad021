"""Expectations in one pass against the same checks written one `filter().count()` each.

Writes N rows of account data (with planted problems) as Parquet, then, reading that file each time, runs 20
expectations two ways in the same session: Refinery's (`measure_expectations`: one aggregation over the rows,
plus one of the key column for the `unique` check) and the way most users write them (one Spark job per
check: `df.filter(broken).count()`, `groupBy(key).count()` for uniqueness, `distinct().count()`). Both must
measure the same numbers. Prints the times and the ratio; writes bench/results/expectations.json.

    .venv/bin/python bench/expectations.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from pyspark.sql import Column, DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from refinery.config import load_config  # noqa: E402
from refinery.session import get_session  # noqa: E402
from refinery.transforms.tabular.expectations import measure_expectations, verdicts  # noqa: E402
from refinery.transforms.tabular.params import Expectation as E  # noqa: E402

EXPECTATIONS = [
    E("id_present", "not_null", column="account_id", severity="warn"),
    E("id_unique", "unique", columns=["account_id"], severity="warn"),
    E("email_present", "not_null", column="email", severity="warn"),
    E("email_shape", "regex", column="email", pattern=r"[^@\s]+@[^@\s]+\.[a-z]+", severity="warn"),
    E("age_range", "range", column="age", min=18, max=110, severity="warn"),
    E("income_range", "range", column="income", min=0, max=5_000_000, severity="warn"),
    E("balance_range", "range", column="balance", min=-10_000, severity="warn"),
    E("segment_known", "allowed", column="segment", values=["retail", "premium", "business"], severity="warn"),
    E("region_known", "allowed", column="region", values=["north", "south", "east", "west"], severity="warn"),
    E("channel_known", "allowed", column="channel", values=["branch", "online", "phone"], severity="warn"),
    E("products_range", "range", column="num_products", min=1, max=8, severity="warn"),
    E("label_binary", "allowed", column="churned", values=["0", "1"], severity="warn"),
    E("closed_after_opened", "compare", column="closed_on", op=">=", other="opened_on", severity="warn"),
    E("zip_shape", "regex", column="zip", pattern=r"\d{5}", severity="warn"),
    E("opened_present", "not_null", column="opened_on", severity="warn"),
    E("tenure_range", "range", column="tenure_months", min=0, max=1200, severity="warn"),
    E("enough_rows", "row_count", min=1, severity="warn"),
    E("few_missing_emails", "null_rate", column="email", max=0.05, severity="warn"),
    E("few_missing_income", "null_rate", column="income", max=0.05, severity="warn"),
    E("all_regions", "distinct_count", column="region", min=4, max=4, severity="warn"),
]


def write_accounts(spark, path: str, rows: int) -> None:
    """Deterministic account rows from `spark.range`, about 1% of them broken for each check."""
    n = F.col("id")
    bad = lambda modulus, residue=0: (n % modulus) == residue  # noqa: E731
    df = spark.range(rows).select(
        F.when(bad(997), None).otherwise(F.format_string("A%09d", n % (rows - 50))).alias("account_id"),
        F.when(bad(101), None)
        .when(bad(103), F.lit("no address"))
        .otherwise(F.format_string("user%d@mail.example", n))
        .alias("email"),
        F.when(bad(107), 15).otherwise(18 + n % 70).cast("int").alias("age"),
        F.when(bad(109), None).otherwise((n % 997) * 113.5).alias("income"),
        ((n % 1009) * 17.25 - 500).alias("balance"),
        F.when(bad(113), "platinum")
        .otherwise(F.element_at(F.array(*map(F.lit, ["retail", "premium", "business"])), (n % 3 + 1).cast("int")))
        .alias("segment"),
        F.element_at(F.array(*map(F.lit, ["north", "south", "east", "west"])), (n % 4 + 1).cast("int")).alias("region"),
        F.element_at(F.array(*map(F.lit, ["branch", "online", "phone"])), (n % 3 + 1).cast("int")).alias("channel"),
        (1 + n % 4).cast("int").alias("num_products"),
        (n % 5 == 0).cast("int").alias("churned"),
        F.date_add(F.lit("2010-01-01").cast("date"), (n % 5000).cast("int")).alias("opened_on"),
        F.when(bad(127), F.lit("2009-01-01").cast("date"))
        .when(bad(2), None)
        .otherwise(F.lit("2025-06-30").cast("date"))
        .alias("closed_on"),
        F.format_string("%05d", n % 100000).alias("zip"),
        (n % 300).cast("int").alias("tenure_months"),
    )
    df.write.mode("overwrite").parquet(path)


def one_pass(df: DataFrame) -> dict[str, float]:
    measured = measure_expectations(df, EXPECTATIONS).first()
    return {v.expectation.name: v.measured for v in verdicts(measured, EXPECTATIONS)}


def one_job_each(df: DataFrame) -> dict[str, float]:
    """The checks as users commonly write them: one action per expectation."""
    results: dict[str, float] = {}
    for e in EXPECTATIONS:
        if e.kind == "unique":
            key = [F.col(c) for c in e.columns]
            complete = df.where(" AND ".join(f"{c} IS NOT NULL" for c in e.columns))
            dups = complete.groupBy(*key).count().where("count > 1")
            results[e.name] = float(dups.agg(F.sum("count")).first()[0] or 0)
        elif e.kind == "row_count":
            results[e.name] = float(df.count())
        elif e.kind == "null_rate":
            results[e.name] = df.where(F.col(e.column).isNull()).count() / df.count()
        elif e.kind == "distinct_count":
            results[e.name] = float(df.select(e.column).where(F.col(e.column).isNotNull()).distinct().count())
        else:
            results[e.name] = float(df.where(_broken(e)).count())
    return results


def _broken(e: E) -> Column:
    value = F.col(e.column)
    if e.kind == "not_null":
        return value.isNull()
    if e.kind == "range":
        low = value < e.min if e.min is not None else F.lit(False)
        return low | (value > e.max if e.max is not None else F.lit(False))
    if e.kind == "allowed":
        return ~value.cast("string").isin(e.values)
    if e.kind == "regex":
        return ~value.rlike(f"^(?:{e.pattern})$")
    return value < F.col(e.other)  # compare >=


def timed(run, df) -> tuple[float, dict]:
    start = time.perf_counter()
    result = run(df)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spark = get_session(load_config("web_text", "local", ["spark.conf.spark.sql.shuffle.partitions=8"]).spark)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "accounts.parquet")
        write_accounts(spark, path, args.rows)
        df = spark.read.parquet(path)
        timed(one_pass, df)  # warm-up: JIT, file listing
        ours, theirs = [], []
        for _ in range(args.repeat):
            seconds, mine = timed(one_pass, df)
            ours.append(seconds)
            seconds, baseline = timed(one_job_each, df)
            theirs.append(seconds)
        differ = {k: (mine[k], baseline[k]) for k in mine if abs(mine[k] - baseline[k]) > 1e-9}
        if differ:
            raise SystemExit(f"the two ways measured different numbers: {differ}")
    result = {
        "rows": args.rows,
        "expectations": len(EXPECTATIONS),
        "one_pass_s": round(statistics.median(ours), 2),
        "one_job_each_s": round(statistics.median(theirs), 2),
        "ratio": round(statistics.median(theirs) / statistics.median(ours), 2),
        "measured": mine,
    }
    out = ROOT / "bench" / "results" / "expectations.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.rows:,} rows x {len(EXPECTATIONS)} expectations (median of {args.repeat})")
    print(f"  one pass (refinery)       {result['one_pass_s']:8.2f} s")
    print(f"  one filter().count() each {result['one_job_each_s']:8.2f} s")
    print(f"  ratio                     {result['ratio']:8.2f}x")


if __name__ == "__main__":
    main()
