"""What a delta costs: `refinery run` after new documents land in a lake that holds N, against the same run on a
fresh lake holding only the new documents, and gold against a `--full-refresh` rebuild of the grown lake.

The corpus (bench/corpus.py) of N + D documents is dealt round robin into files of D documents each; the lake
gets all files but the last, is run once, then gets the last file and is run again (timed, per stage from the
ledger). Writes bench/results/increment.json.

    .venv/bin/python bench/increment.py --docs 100000 --delta 10000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import make_corpus  # noqa: E402
from pipeline import RESULTS, ledger_runs, refinery  # noqa: E402


def gold_digest(lake: Path) -> str:
    """sha256 of gold's rows (every column but the run's bookkeeping), sorted: equal golds, equal digests."""
    from deltalake import DeltaTable

    gold = DeltaTable(str(lake / "gold" / "web_text")).to_pyarrow_table()
    kept = [c for c in gold.column_names if not c.startswith("_")]
    rows = sorted(json.dumps(row, sort_keys=True, default=str) for row in gold.select(kept).to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def land(files: list[Path], lake: Path) -> None:
    raw = lake / "raw" / "web_text"
    raw.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.link(path, raw / path.name)


def timed_run(lake: Path, *flags: str) -> dict:
    run = refinery("run", lake, flags=flags)
    stages = ledger_runs(lake)[-1]
    return {"s": round(run["s"], 1), "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents in the lake before the delta")
    parser.add_argument("--delta", type=int, default=10_000, help="documents that land afterwards")
    parser.add_argument("--work", type=Path, default=Path("/tmp/refinery-increment-bench"))
    args = parser.parse_args()
    if args.docs % args.delta:
        raise SystemExit("--docs must be a multiple of --delta (the corpus is dealt into files of --delta docs)")
    shutil.rmtree(args.work, ignore_errors=True)
    corpus = args.work / "corpus"
    make_corpus(args.docs + args.delta, corpus, files=args.docs // args.delta + 1)
    files = sorted(corpus.glob("web-*.jsonl*"))
    grown, fresh = args.work / "grown", args.work / "fresh"
    land(files[:-1], grown)
    first = timed_run(grown)
    land(files[-1:], grown)
    delta = timed_run(grown)
    land(files[-1:], fresh)
    only_new = timed_run(fresh)
    delta_gold = gold_digest(grown)
    rebuilt = timed_run(grown, "--full-refresh")
    report = {
        "docs": args.docs,
        "delta": args.delta,
        "first_run": first,
        "delta_run": delta,
        "fresh_lake_of_the_delta": only_new,
        "full_refresh": rebuilt,
        "delta_over_fresh": round(delta["s"] / only_new["s"], 2),
        "gold_equal_to_full_refresh": delta_gold == gold_digest(grown),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "increment.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"first run of {args.docs:,} docs: {first['s']} s")
    for name, run in (("delta run", delta), ("fresh lake of the delta", only_new), ("full refresh", rebuilt)):
        per_stage = ", ".join(f"{stage} {row['s']:.1f}" for stage, row in run["stages"].items())
        print(f"{name} ({args.delta:,} new): {run['s']} s ({per_stage})")
    print(f"delta run / fresh lake of the delta: {report['delta_over_fresh']}x")
    print(f"gold after the delta equal to gold rebuilt: {report['gold_equal_to_full_refresh']}")


if __name__ == "__main__":
    main()
