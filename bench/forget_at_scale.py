"""`refinery forget` at scale: many deletion requests in one pass over a lake of N documents and a release.

Builds a raw lake of N documents (bench/ingest.py's corpus, each with a site, an author and, for one in fifty,
a contact e-mail address), runs the pipeline and names a release, then times `refinery forget --requests`
as a user runs it (a fresh process, start-up included) with a mix of requests: document ids, site opt-outs
(URL prefixes), authors (meta fields) and e-mail addresses (contains). Prints and writes bench/results/forget.json:
the time, rows removed per table, the Delta files each table's forget commits removed and added, and raw
lines emptied.

    .venv/bin/python bench/forget_at_scale.py [--docs 100000] [--requests 100] [--files 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "data" / "sample"))

from ingest import build_corpus  # noqa: E402

SITES, AUTHORS, EMAIL_EVERY = 997, 5000, 50  # sites as bench/ingest.py builds URLs
RELEASE = "bench"
KEY = "bench-key-of-at-least-16-bytes"


def with_author_and_contact(n: int, record: dict) -> dict:
    """A document's author, and for one in fifty a contact e-mail address in its text."""
    record["meta"]["author"] = f"author{n % AUTHORS}"
    if n % EMAIL_EVERY == 0:
        record["text"] += f" Contact: reader{n // EMAIL_EVERY}@example.org"
    return record


def requests(count: int, docs: int, seed: int = 5) -> list[dict]:
    """A quarter of each kind: ids, site opt-outs, authors, e-mail addresses."""
    rng = random.Random(seed)
    quarter = count // 4
    kinds = [
        *({"doc_id": f"d{rng.randrange(docs)}"} for _ in range(count - 3 * quarter)),
        *({"url_prefix": f"https://site{rng.randrange(SITES)}.example.com"} for _ in range(quarter)),
        *({"field": f"meta.author=author{rng.randrange(AUTHORS)}"} for _ in range(quarter)),
        *({"contains": f"reader{rng.randrange(docs // EMAIL_EVERY)}@example.org"} for _ in range(quarter)),
    ]
    return kinds


def refinery(lake: Path, *args: str) -> float:
    env = {**os.environ, "REFINERY_PRIVACY_KEY": KEY}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "refinery.cli", *args, "--lake", str(lake), "-q"], cwd=ROOT, env=env, check=True
    )
    return time.perf_counter() - start


def delta_tables(lake: Path) -> dict[str, Path]:
    return {str(log.parent.relative_to(lake)): log.parent for log in sorted(lake.glob("**/_delta_log"))}


def files_changed(table: Path, after_version: int) -> tuple[int, int]:
    """Data files removed and added by the commits after `after_version` (from the Delta log's actions)."""
    removed = added = 0
    for entry in sorted((table / "_delta_log").glob("*.json")):
        if int(entry.stem) <= after_version:
            continue
        for line in entry.read_text().splitlines():
            action = json.loads(line)
            removed += "remove" in action
            added += "add" in action
    return removed, added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the bench lake")
    args = parser.parse_args()
    lake = Path(tempfile.mkdtemp(prefix="refinery-forget-bench-"))
    try:
        build_corpus(lake / "raw" / "web_text", args.docs, args.files, decorate=with_author_and_contact)
        pipeline_s = refinery(lake, "run")
        refinery(lake, "release", "create", RELEASE)
        before = {name: DeltaTable(str(path)).version() for name, path in delta_tables(lake).items()}
        request_file = lake / "requests.jsonl"
        request_file.write_text("".join(json.dumps(r) + "\n" for r in requests(args.requests, args.docs)))
        forget_s = refinery(lake, "forget", "--requests", str(request_file), "--allow-no-match")  # ids drawn blind

        runs = DeltaTable(str(lake / "_refinery" / "runs")).to_pyarrow_table().to_pylist()
        audit = next(r for r in runs if r["stage"] == "forget" and r["status"] == "ok")
        metrics = dict(audit["metrics"])
        tables = {}
        for name, version in before.items():
            removed, added = files_changed(lake / name, version)
            if removed or added:
                tables[name] = {"files_removed": removed, "files_added": added}
        result = {
            "docs": args.docs,
            "requests": args.requests,
            "pipeline_s": round(pipeline_s, 1),
            "forget_s": round(forget_s, 1),
            "rows_removed": audit["rows_in"],
            "raw_records_blanked": int(metrics.get("raw.records_blanked", 0)),
            "rows_removed_per_table": {
                k.removeprefix("table."): v.split(" rows")[0] for k, v in metrics.items() if k.startswith("table.")
            },
            "delta_files": tables,
            "delta_files_rewritten": sum(t["files_removed"] for t in tables.values()),
            "cores": os.cpu_count(),
        }
        print(json.dumps(result, indent=2))
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        (out / "forget.json").write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(lake, ignore_errors=True)


if __name__ == "__main__":
    main()
