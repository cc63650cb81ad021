"""The whole pipeline at scale: `refinery run` against the I/O floor and DataTrove, per stage, at each size.

For each N of --sizes, on the same raw files (bench/corpus.py) and 2 cores, each in a fresh process:
- `refinery run --pipeline web_text` into a new lake (its Spark event log on), timed as a user feels it;
- the floor: a plain Spark job that reads the raw files with a fixed schema and writes one Delta table;
- DataTrove: JsonlReader -> the four quality filters -> JsonlWriter, then MinHash dedup in its four
  stages -> JsonlWriter, with the same 5-gram/128-permutation/0.8 settings (skipped when the previous
  size's time says it would take longer than --datatrove-limit seconds);
- up to --curate-cli-max docs: `refinery ingest` then `refinery curate` as commands in a second lake,
  the curate command timed against DataTrove's four-filter step.
Per stage: seconds, docs/s per core, rows in -> out, shuffle and spill (event log), skew, output files.
Writes bench/results/pipeline.json and bench/results/pipeline.png.

    .venv/bin/python bench/pipeline.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import make_corpus  # noqa: E402
from dedup_speed import peak_memory  # noqa: E402
from spark_events import stage_metrics, submit_args  # noqa: E402

from refinery import pipelines  # noqa: E402

CORES = 2
STAGES = pipelines.TEXT.stage_names
REFINERY = str(ROOT / ".venv" / "bin" / "refinery")
RESULTS = ROOT / "bench" / "results"


# ----------------------------------------------------------------------------- children (fresh processes)


def child_floor(corpus: Path, out: Path) -> dict:
    """Read the raw files with a fixed schema, write one Delta table: what any Spark job pays."""
    sys.path.insert(0, str(ROOT / "lib"))
    from refinery.config import load_config
    from refinery.session import get_session

    spark = get_session(load_config("web_text", "local").spark)
    start = time.perf_counter()
    docs = spark.read.schema("id string, text string, url string").json(str(corpus / "*.jsonl*"))
    docs.write.format("delta").mode("overwrite").save(str(out / "floor"))
    return {"job_s": time.perf_counter() - start}


def child_datatrove(corpus: Path, out: Path) -> dict:
    """DataTrove: the four filters, then MinHash (signatures, buckets, clusters, filter), 2 workers."""
    from curate_vs_datatrove import datatrove_filters
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    sys.path.insert(0, str(ROOT / "lib"))
    from refinery.transforms.minhash import optimal_bands

    class Reader(JsonlReader):
        """DataTrove's reader stops the whole run at a line that is JSON but not an object, or whose text is not
        a string (malformed JSON it skips); a user has to skip those too to get through the corpus."""

        def read_file(self, filepath: str):
            import orjson

            with self.data_folder.open(filepath, "r", compression=self.compression) as lines:
                for number, line in enumerate(lines):
                    try:
                        data = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(data, dict) and isinstance(data.get("text"), str):
                        document = self.get_document_from_dict(data, filepath, number)
                        if document:
                            yield document

    files = len(list(corpus.glob("*.jsonl*")))
    even = optimal_bands(0.8, 128)  # DataTrove has no candidate check: the even-weight bands (dedup_speed.py)
    config = MinhashConfig(n_grams=5, num_buckets=even.bands, hashes_per_bucket=even.rows)

    def execute(steps, tasks, name):
        LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=CORES, logging_dir=str(out / "logs" / name)).run()

    started = _process_start()
    filtered = out / "filtered"
    execute(
        [Reader(str(corpus), glob_pattern="*.jsonl*"), *[make() for make in datatrove_filters().values()],
         JsonlWriter(str(filtered))],
        files,
        "filters",
    )  # fmt: skip
    filters_s = time.time() - started
    execute([JsonlReader(str(filtered)), MinhashDedupSignature(str(out / "sigs"), config=config)], files, "sigs")
    execute([MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=config)], even.bands, "buckets")
    execute([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config)], 1, "clusters")
    execute(
        [JsonlReader(str(filtered)), MinhashDedupFilter(str(out / "remove")), JsonlWriter(str(out / "kept"))],
        files,
        "filter",
    )
    kept = sum(1 for path in (out / "kept").glob("*.jsonl.gz") for _ in _gzip_lines(path))
    return {"filters_s": filters_s, "total_s": time.time() - started, "docs_out": kept}


def _process_start() -> float:
    import psutil

    return psutil.Process().create_time()  # the interpreter's start, imports included


def _gzip_lines(path: Path):
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as lines:
        yield from lines


# ----------------------------------------------------------------------------- the parent


def timed(command: list[str], *, env: dict | None = None, timeout: float | None = None) -> dict:
    """Run a command to its end; wall seconds and peak memory (MB) of its process tree."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop, peaks = threading.Event(), {}
    sampler = threading.Thread(target=peak_memory, args=(child.pid, stop, peaks), daemon=True)
    sampler.start()
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {"timed_out": True, "s": time.perf_counter() - start}
    finally:
        stop.set()
        sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed ({child.returncode}):\n{output[-3000:]}")
    return {"s": time.perf_counter() - start, "output": output, **{f"{k}_mb": round(v) for k, v in peaks.items()}}


def run_child(name: str, corpus: Path, out: Path, timeout: float | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [sys.executable, __file__, "--child", name, "--corpus", str(corpus), "--out", str(out)]
    run = timed(command, timeout=timeout)
    if run.get("timed_out"):
        return run
    return {**json.loads((out / "result.json").read_text()), "process_s": run["s"], "tree_mb": run.get("tree_mb")}


def new_lake(corpus: Path, lake: Path) -> None:
    """A fresh lake whose raw folder holds the corpus files (hard links: no copy)."""
    shutil.rmtree(lake, ignore_errors=True)
    raw = lake / "raw" / "web_text"
    raw.mkdir(parents=True)
    for path in corpus.glob("*.jsonl*"):
        os.link(path, raw / path.name)


def refinery(command: str, lake: Path, events: Path | None = None, flags: tuple[str, ...] = ()) -> dict:
    env = dict(os.environ)
    if events is not None:
        events.mkdir(parents=True, exist_ok=True)
        env["PYSPARK_SUBMIT_ARGS"] = submit_args(events)
    line = [REFINERY, command, "--pipeline", "web_text", "--env", "local", "--lake", str(lake), *flags]
    return timed(line, env=env)


def ledger_stages(lake: Path) -> dict[str, dict]:
    """Per stage of the lake's one run: seconds, rows, and the output table's data files."""
    return ledger_runs(lake)[-1]


def ledger_runs(lake: Path) -> list[dict[str, dict]]:
    """Per run of the lake, in order, per stage: seconds, rows, how it ran, and the output table's data files."""
    from deltalake import DeltaTable

    rows = DeltaTable(str(lake / "_refinery" / "runs")).to_pyarrow_table().to_pylist()
    runs: dict[str, dict[str, dict]] = {}
    for row in sorted(rows, key=lambda r: r["started_at"]):
        if row["status"] != "ok":
            continue
        metrics = dict(row["metrics"])
        files = _data_files(lake / row["output_table"], row["output_version"]) if row["output_table"] else {}
        runs.setdefault(row["run_id"], {})[row["stage"]] = {
            "s": float(metrics["seconds"]),
            "rows_in": row["rows_in"],
            "rows_out": row["rows_out"],
            "rejected": row["rows_rejected"],
            "docs_per_s_per_core": round(row["rows_in"] / float(metrics["seconds"]) / CORES),
            **({"mode": metrics["mode"]} if "mode" in metrics else {}),
            **files,
        }
    return list(runs.values())


def _data_files(table: Path, version: int) -> dict:
    import pyarrow as pa
    from deltalake import DeltaTable

    sizes = pa.table(DeltaTable(str(table), version=version).get_add_actions(flatten=True))["size_bytes"].to_pylist()
    return {"files": len(sizes), "files_mb": round(sum(sizes) / 2**20, 1), "file_mb_max": round(max(sizes) / 2**20, 1)}


def measure_size(n: int, work: Path, previous: dict | None, args) -> dict:
    corpus = work / f"corpus-{n}"
    manifest = corpus / "MANIFEST.json"
    if not manifest.exists() or json.loads(manifest.read_text())["docs"] != n:
        print(f"[{n}] writing the corpus", flush=True)
        make_corpus(n, corpus)
    raw_mb = json.loads(manifest.read_text())["bytes"] / 2**20
    row: dict = {"n": n, "raw_mb": round(raw_mb, 1)}

    print(f"[{n}] floor", flush=True)
    floor = run_child("floor", corpus, work / f"floor-{n}")
    row.update(floor_s=round(floor["job_s"], 1), floor_process_s=round(floor["process_s"], 1))

    print(f"[{n}] refinery run", flush=True)
    lake, events = work / f"lake-{n}", work / f"events-{n}"
    new_lake(corpus, lake)
    shutil.rmtree(events, ignore_errors=True)
    run = refinery("run", lake, events)
    stages = ledger_stages(lake)
    for name, spark in stage_metrics(events).items():
        stages.setdefault(name, {}).update(spark=spark)
    row.update(
        pipeline_s=round(run["s"], 1),
        driver_peak_rss_mb=run.get("driver_mb"),
        tree_peak_rss_mb=run.get("tree_mb"),
        stages=stages,
        docs_out=stages.get("publish", {}).get("rows_out"),
    )

    predicted = previous and previous.get("datatrove_s") and previous["datatrove_s"] * n / previous["n"]
    earlier = {row["n"]: row for row in _earlier_rows()} if args.reuse_datatrove else {}
    if n in earlier and "datatrove_s" in earlier[n]:
        print(f"[{n}] DataTrove: reusing the result in {RESULTS / 'pipeline.json'}", flush=True)
        row.update({key: value for key, value in earlier[n].items() if key.startswith("datatrove")})
    elif predicted and predicted > args.datatrove_limit:
        print(f"[{n}] DataTrove skipped: about {predicted:.0f} s expected", flush=True)
        row.update(datatrove_s=None, datatrove_skipped=f"about {predicted:.0f} s expected from N={previous['n']}")
    else:
        print(f"[{n}] DataTrove", flush=True)
        theirs = run_child("datatrove", corpus, work / f"datatrove-{n}", timeout=args.datatrove_limit)
        if theirs.get("timed_out"):
            row.update(datatrove_s=None, datatrove_skipped=f"stopped after {args.datatrove_limit} s")
        else:
            row.update(
                datatrove_s=round(theirs["total_s"], 1),
                datatrove_filters_s=round(theirs["filters_s"], 1),
                datatrove_docs_out=theirs["docs_out"],
            )

    if n <= args.curate_cli_max:
        print(f"[{n}] refinery ingest, then refinery curate as commands", flush=True)
        second = work / f"lake-cli-{n}"
        new_lake(corpus, second)
        refinery("ingest", second)
        row["curate_cli_s"] = round(refinery("curate", second)["s"], 1)
        shutil.rmtree(second, ignore_errors=True)
    row["ratios"] = ratios(row)
    return row


def _largest_earlier_below(n: int) -> dict | None:
    """The last report's row of the largest size below `n` that ran DataTrove: a size measured alone still
    predicts DataTrove's time from it."""
    below = [row for row in _earlier_rows() if row["n"] < n and row.get("datatrove_s")]
    return max(below, key=lambda row: row["n"]) if below else None


def _earlier_rows() -> list[dict]:
    path = RESULTS / "pipeline.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def ratios(row: dict) -> dict:
    stages, floor = row["stages"], row["floor_s"]
    out = {
        f"{name}_over_floor": round(stages[name]["s"] / floor, 2) for name in ("ingest", "publish") if name in stages
    }
    if row.get("datatrove_s"):
        out["pipeline_docs_per_s_per_core_vs_datatrove"] = round(row["datatrove_s"] / row["pipeline_s"], 2)
    if row.get("datatrove_filters_s") and row.get("curate_cli_s"):
        out["curate_cli_vs_datatrove_filters"] = round(row["datatrove_filters_s"] / row["curate_cli_s"], 2)
    return out


def print_row(row: dict) -> None:
    print(f"\nN = {row['n']:,} ({row['raw_mb']} MB raw): refinery run {row['pipeline_s']} s, floor {row['floor_s']} s, "
          f"DataTrove {row.get('datatrove_s')} s, driver peak {row['driver_peak_rss_mb']} MB")  # fmt: skip
    print(f"{'stage':<9}{'s':>8}{'docs/s/core':>12}{'in':>10}{'out':>10}{'shuffle w MB':>13}{'spill MB':>9}"
          f"{'skew':>6}{'files':>6}{'MB':>8}")  # fmt: skip
    for name in STAGES:
        stage = row["stages"].get(name)
        if not stage:
            continue
        spark = stage.get("spark", {})
        spill = spark.get("spill_disk_mb", 0) + spark.get("spill_memory_mb", 0)
        print(f"{name:<9}{stage['s']:>8.1f}{stage['docs_per_s_per_core']:>12,}{stage['rows_in']:>10,}"
              f"{stage['rows_out']:>10,}{spark.get('shuffle_write_mb', 0):>13}{spill:>9.1f}"
              f"{spark.get('skew') or '-':>6}{stage.get('files', '-'):>6}{stage.get('files_mb', '-'):>8}")  # fmt: skip
    print("ratios:", json.dumps(row["ratios"]))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["n"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    series = {"refinery run": [row["pipeline_s"] for row in rows], "floor (read + one Delta write)": [
        row["floor_s"] for row in rows]}  # fmt: skip
    for name in STAGES:
        series[name] = [row["stages"].get(name, {}).get("s") for row in rows]
    series["DataTrove"] = [row.get("datatrove_s") for row in rows]
    for label, values in series.items():
        points = [(n, v) for n, v in zip(sizes, values, strict=True) if v]
        if points:
            style = "--" if label in STAGES else "-"
            axes.plot(*zip(*points, strict=True), style, marker="o", label=label)
    axes.set(xscale="log", yscale="log", xlabel="documents", ylabel="seconds", title="time against N (2 cores)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/refinery-pipeline-bench"))
    parser.add_argument("--datatrove-limit", type=float, default=3600)
    parser.add_argument("--curate-cli-max", type=int, default=100_000)
    parser.add_argument("--reuse-datatrove", action="store_true", help="take DataTrove's times from the last report")
    parser.add_argument("--child", choices=("floor", "datatrove"))
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        result = {"floor": child_floor, "datatrove": child_datatrove}[args.child](args.corpus, args.out)
        (args.out / "result.json").write_text(json.dumps(result))
        return
    missing = [name for name in ("psutil", "datatrove", "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"bench/pipeline.py needs {', '.join(missing)}: run `make bench-scale` (it installs '.[bench]')")
    rows: list[dict] = []
    for n in [int(size) for size in args.sizes.split(",")]:
        rows.append(measure_size(n, args.work, rows[-1] if rows else _largest_earlier_below(n), args))
        print_row(rows[-1])
        kept = [row for row in _earlier_rows() if row["n"] not in {r["n"] for r in rows}]
        machine = {"cores": CORES, "cpu": platform.machine(), "python": platform.python_version()}
        report = {"machine": machine, "rows": sorted(kept + rows, key=lambda r: r["n"])}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "pipeline.json").write_text(json.dumps(report, indent=2) + "\n")
        plot(report["rows"], RESULTS / "pipeline.png")
    print(f"\nwrote {RESULTS / 'pipeline.json'} and {RESULTS / 'pipeline.png'}")


if __name__ == "__main__":
    main()
