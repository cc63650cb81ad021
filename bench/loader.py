"""Loader throughput: `refinery.loader.iter_batches` vs a raw `pyarrow.dataset` scan of the same files.

Builds a release (silver_dedup of generated docs from the sample's sentence banks -> publish -> release
create), then, in one process and after a warm-up pass of each, times:

- raw: `pyarrow.dataset.dataset(<the split's files>).to_batches()`, every column;
- loader: `iter_batches(...)` with one reader, without and with the per-epoch shuffle buffer;
- loader x8: eight readers (4 ranks x 2 workers) one after the other, together covering the split once.

Prints rows/s, MB/s (Arrow bytes) and loader / raw; writes bench/results/loader.json.

    .venv/bin/python bench/loader.py [--docs 300000] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data" / "sample"))

from make_sample import SENTENCES  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "loader.json"


def build_release(lake: Path, docs: int) -> None:
    """Generated docs -> silver_dedup -> publish -> release `bench` (Spark runs here only)."""
    from pyspark.sql import functions as F

    from refinery.cli import main
    from refinery.config import load_config
    from refinery.lake.schemas import load_schema
    from refinery.session import get_session

    spark = get_session(load_config().spark)
    rng = random.Random(7)
    langs = list(SENTENCES)
    rows = []
    for n in range(docs):
        lang = langs[n % len(langs)]
        rows.append((f"d{n:08d}", " ".join(rng.choices(SENTENCES[lang], k=rng.randint(4, 16))), lang, n % 997))
    df = spark.createDataFrame(rows, "doc_id string, text string, lang string, host int").select(
        "doc_id",
        "text",
        F.when(F.col("host") % 5 == 0, "forum").otherwise("web").alias("source"),
        F.format_string("https://site%d.example.com/%s", "host", "doc_id").alias("url"),
        F.create_map().cast("map<string,string>").alias("meta"),
        F.lit("bench.jsonl").alias("_file"),
        F.lit(0).cast("bigint").alias("_line"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit("bench").alias("_run_id"),
        "lang",
        F.lit(0.99).alias("lang_score"),
        F.lit(0).alias("n_words"),
        F.create_map().cast("map<string,int>").alias("pii"),
        F.sha2("text", 256).alias("content_hash"),
    )
    load_schema("text/silver").conform(df).write.format("delta").save(str(lake / "silver_dedup" / "web_text"))
    settings = ["--lake", str(lake), "-q", "--set", "publish.decontamination.enabled=false"]
    settings += ["--set", "publish.target_file_mb=64", "--set", "publish.row_group_mb=4"]
    assert main(["publish", *settings]) == 0
    assert main(["release", "create", "bench", *settings]) == 0


def timed(label: str, batches) -> dict:
    start = time.perf_counter()
    rows = nbytes = 0
    for batch in batches:
        rows += batch.num_rows
        nbytes += batch.nbytes
    seconds = time.perf_counter() - start
    return {"path": label, "rows": rows, "mb": nbytes / 1e6, "seconds": seconds}


def measure(lake: Path, batch_size: int) -> list[dict]:
    import pyarrow.dataset as ds

    from refinery.loader import ReleaseFiles, iter_batches

    files = ReleaseFiles.open(str(lake), "web_text", "bench").split_files("train")
    paths = [f.path for f in files]

    def raw():
        return ds.dataset(paths, format="parquet").to_batches(batch_size=batch_size)

    def loader(shuffle: bool):
        return iter_batches(str(lake), "web_text", "bench", "train", batch_size=batch_size, shuffle=shuffle)

    def eight_readers():
        for rank in range(4):
            for worker in range(2):
                yield from iter_batches(str(lake), "web_text", "bench", "train", rank, 4, worker, 2, batch_size)

    runs = [
        ("raw pyarrow.dataset scan", raw),
        ("loader, 1 reader, no shuffle", lambda: loader(False)),
        ("loader, 1 reader, epoch shuffle", lambda: loader(True)),
        ("loader, 4 ranks x 2 workers", eight_readers),
    ]
    for _, make in runs:  # warm the page cache and imports
        timed("warm-up", make())
    results = []
    for label, make in runs:
        best = min((timed(label, make()) for _ in range(5)), key=lambda r: r["seconds"])
        results.append(best)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lake", type=Path, help="keep the built release here and reuse it on later runs")
    args = parser.parse_args()
    work = args.lake or Path(tempfile.mkdtemp(prefix="refinery-loader-"))
    try:
        if not (work / "releases" / "web_text" / "bench").exists():
            build_release(work, args.docs)
        results = measure(work, args.batch_size)
    finally:
        if args.lake is None:
            shutil.rmtree(work, ignore_errors=True)
    raw = results[0]
    print(f"\nloader bench: {args.docs:,} docs, train split, batch size {args.batch_size} (best of 5)")
    print(f"{'path':<36} {'rows':>9} {'MB':>8} {'s':>7} {'rows/s':>11} {'MB/s':>8} {'vs raw':>7}")
    for r in results:
        r["rows_per_s"] = r["rows"] / r["seconds"]
        r["mb_per_s"] = r["mb"] / r["seconds"]
        r["vs_raw"] = raw["seconds"] / r["seconds"]
        print(
            f"{r['path']:<36} {r['rows']:>9,} {r['mb']:>8.1f} {r['seconds']:>7.3f} {r['rows_per_s']:>11,.0f} "
            f"{r['mb_per_s']:>8.0f} {r['vs_raw']:>7.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"docs": args.docs, "batch_size": args.batch_size, "results": results}, indent=2))


if __name__ == "__main__":
    main()
