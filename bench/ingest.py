"""Ingest throughput: refinery's ingest stage vs a plain `spark.read.<fmt>(...).write.format("delta")` copy.

Builds a JSONL corpus (and the same rows as Parquet) from the sample's sentence banks, warms both paths
up on a small slice, then times each path on the full corpus in the same session. Prints rows/s, MB/s
and our time / plain time; writes bench/results/ingest.json.

    .venv/bin/python bench/ingest.py [--docs 200000] [--files 8]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data" / "sample"))

from make_sample import SENTENCES  # noqa: E402

from refinery.config import load_config  # noqa: E402
from refinery.lake.store import Lake  # noqa: E402
from refinery.session import get_session  # noqa: E402
from refinery.stages import ingest  # noqa: E402
from refinery.stages.base import StageContext, execute  # noqa: E402


def build_corpus(
    folder: Path, docs: int, files: int, seed: int = 1, decorate: Callable[[int, dict], dict] | None = None
) -> None:
    """`docs` JSONL records of 3-12 sentences from the sample's banks in `files` files; `decorate(n, record)`
    may change record n."""
    rng = random.Random(seed)
    langs = list(SENTENCES)
    folder.mkdir(parents=True)
    handles = [open(folder / f"part-{i:03d}.jsonl", "w", encoding="utf-8") for i in range(files)]  # noqa: SIM115
    for n in range(docs):
        lang = langs[n % len(langs)]
        text = " ".join(rng.choices(SENTENCES[lang], k=rng.randint(3, 12)))
        record = {"id": f"d{n}", "text": text, "url": f"https://site{n % 997}.example.com/{n}", "meta": {"lang": lang}}
        if decorate:
            record = decorate(n, record)
        handles[n % files].write(json.dumps(record, ensure_ascii=False) + "\n")
    for handle in handles:
        handle.close()


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def plain_copy(spark, fmt: str, source: Path, target: Path) -> float:
    start = time.perf_counter()
    reader = spark.read.json if fmt == "jsonl" else spark.read.parquet
    reader(str(source)).write.format("delta").mode("overwrite").save(str(target))
    return time.perf_counter() - start


def refinery_ingest(spark, fmt: str, source: Path, lake: Path) -> tuple[float, int]:
    glob = "*.jsonl" if fmt == "jsonl" else "*.parquet"
    config = load_config(
        "web_text",
        "local",
        [f"lake.root={lake}", f"ingest.sources=[{{name: bench, format: {fmt}, path: '{source}', glob: '{glob}'}}]"],
    )
    ctx = StageContext(spark=spark, config=config, lake=Lake(spark, config.lake))
    start = time.perf_counter()
    result = execute(ctx, "ingest", ingest.run)
    return time.perf_counter() - start, result.rows_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()

    spark = get_session(load_config("web_text", "local").spark)
    work = Path(tempfile.mkdtemp(prefix="refinery-bench-"))
    try:
        corpora = {}
        for name, docs in (("warmup", 2_000), ("full", args.docs)):
            jsonl = work / name / "jsonl"
            build_corpus(jsonl, docs, args.files)
            parquet = work / name / "parquet"
            spark.read.json(str(jsonl)).repartition(args.files).write.parquet(str(parquet))
            corpora[name] = {"jsonl": jsonl, "parquet": parquet}

        for fmt in ("jsonl", "parquet"):  # warm the JVM (JIT, class loading) and Python workers; not reported
            plain_copy(spark, fmt, corpora["warmup"][fmt], work / "warmup" / f"plain-{fmt}-jit")
            refinery_ingest(spark, fmt, corpora["warmup"][fmt], work / "warmup" / f"lake-{fmt}-jit")
        rows = []
        for fmt in ("jsonl", "parquet"):
            for corpus in ("warmup", "full"):  # warm-up rows: the fixed per-run cost (ledger, file log, checks)
                source = corpora[corpus][fmt]
                plain = plain_copy(spark, fmt, source, work / corpus / f"plain-{fmt}")
                ours, out_rows = refinery_ingest(spark, fmt, source, work / corpus / f"lake-{fmt}")
                mb = size_mb(source)
                docs = args.docs if corpus == "full" else 2_000
                rows.append(
                    {
                        "format": fmt,
                        "docs": docs,
                        "mb": round(mb, 1),
                        "plain_s": round(plain, 2),
                        "refinery_s": round(ours, 2),
                        "plain_rows_per_s": round(docs / plain),
                        "refinery_rows_per_s": round(out_rows / ours),
                        "plain_mb_per_s": round(mb / plain, 1),
                        "refinery_mb_per_s": round(mb / ours, 1),
                        "ratio": round(ours / plain, 2),
                    }
                )
        header = f"{'format':<8} {'docs':>8} {'MB':>7} {'plain s':>8} {'ours s':>8} {'plain rows/s':>13} "
        header += f"{'ours rows/s':>12} {'plain MB/s':>11} {'ours MB/s':>10} {'ours/plain':>10}"
        print(header)
        for r in rows:
            print(
                f"{r['format']:<8} {r['docs']:>8} {r['mb']:>7} {r['plain_s']:>8} {r['refinery_s']:>8} "
                f"{r['plain_rows_per_s']:>13} {r['refinery_rows_per_s']:>12} {r['plain_mb_per_s']:>11} "
                f"{r['refinery_mb_per_s']:>10} {r['ratio']:>9}x"
            )
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "ingest.json").write_text(json.dumps(rows, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
