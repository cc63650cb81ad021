"""Near-dedup speed: refinery vs text-dedup's minhash_spark.py vs DataTrove's MinHash pipeline, 2 cores.

Same corpus (bench/dedup_corpus.py, Parquet), same word 5-grams, 128 permutations and threshold 0.8.
Each tool gets its own LSH bands x rows for that threshold: refinery verifies candidates, so it
favours recall (conf/base.yaml); text-dedup picks its own (even weights, as datasketch); DataTrove
takes buckets x hashes and is given the same even-weight choice (9 x 13), since it has no check.
`refinery-fast` is refinery set up as text-dedup's algorithm: the even-weight 9 x 13 bands and no
check of the candidates (`verify: none`), for a like-for-like time of the same work.
Every tool runs in a fresh process on local[2] (DataTrove: 2 workers); the parent samples the
process tree's memory and reports the peak RSS of the driver (the Python process that runs the
job), of the JVM and of the whole tree. Quality is the cluster pair-counting F1 against the exact
Jaccard ground truth of dedup_quality.py (computed for corpora up to --truth-max docs).

text-dedup needs GraphFrames for connected components. Its jar is not served by this machine's Maven
mirror (io.graphframes:graphframes-spark4_2.13: 404 for every version), so the bench puts a
`graphframes` shim on text-dedup's path whose GraphFrame.connectedComponents runs the same algorithm
GraphFrames uses by default (alternating large-star/small-star, checkpointed) via refinery's
transforms.components. Its cluster-sized partition counts are scaled to 2 cores (TEXT_DEDUP_SIZING);
everything else in minhash_spark.py runs unchanged.

    .venv/bin/python bench/dedup_speed.py [--docs 100000 1000000] [--tools refinery refinery-fast text-dedup ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
TOOLS = ("refinery", "refinery-fast", "text-dedup", "datatrove")
# refinery as configured (recall-leaning bands, exact Jaccard check) and refinery-fast: text-dedup's own
# algorithm (datasketch's even-weight bands, every candidate taken, no check), for a like-for-like time.
REFINERY_SETTINGS = {
    "refinery": [],
    "refinery-fast": ["dedup.minhash.verify=none", "dedup.minhash.false_negative_weight=0.5"],
}
# minhash_spark.py is sized for a large cluster (8192 shuffle partitions, 4096-way repartitions, at least
# 256 output files): on 2 cores that alone took 12 minutes for 5,000 docs. The bench sizes it like
# refinery's local config instead; nothing else in the script changes.
TEXT_DEDUP_SIZING = {
    '.set("spark.default.parallelism", "100")': '.set("spark.default.parallelism", "2")',
    '.set("spark.sql.shuffle.partitions", "8192")': '.set("spark.sql.shuffle.partitions", "4")',
    ".repartition(4096)": ".repartition(4)",
    "partitions = max(256, ": "partitions = max(2, ",
}
DRIVER_MEMORY = "4g"

GRAPHFRAMES_SHIM = '''
"""Stand-in for GraphFrames (jar not available here): the same large-star/small-star algorithm."""
from pyspark.sql import functions as F
from refinery.transforms.components import connected_components


class GraphFrame:
    def __init__(self, vertices, edges):
        self.vertices, self.edges = vertices, edges

    def connectedComponents(self):
        labels, _ = connected_components(self.edges, checkpoint=lambda df: df.checkpoint(eager=True))
        labels = labels.select(F.col("node").alias("id"), "component")
        alone = self.vertices.join(labels, "id", "left_anti").select("id", F.col("id").alias("component"))
        return labels.unionByName(alone)
'''


# ----------------------------------------------------------------------------- the tools (child processes)


def run_refinery(corpus: Path, out: Path, tool: str) -> None:
    """The dedup stage's own near-duplicate pass (find_near_duplicates), then the kept docs and clusters."""
    sys.path.insert(0, str(ROOT / "lib"))
    from pyspark.sql import functions as F

    from refinery.config import load_config
    from refinery.session import Persisted, get_session
    from refinery.stages.dedup import find_near_duplicates
    from refinery.transforms.dedup import PROTECTED, flag_near_duplicates
    from refinery.transforms.minhash import MinHasher
    from refinery.transforms.rules import kept_rows

    overrides = [f"spark.conf.spark.driver.memory={DRIVER_MEMORY}", *REFINERY_SETTINGS[tool]]
    cfg = load_config("web_text", "local", overrides)
    spark = get_session(cfg.spark)
    hasher = MinHasher(cfg.dedup.minhash)
    docs = spark.read.parquet(str(corpus)).select(
        F.col("id").alias("doc_id"), "text", F.lit("").alias("content_hash"), F.lit(False).alias(PROTECTED)
    )
    with Persisted() as cache:
        near = find_near_duplicates(cfg.dedup, docs, None, hasher, cache)
        kept_rows(flag_near_duplicates(docs, near.clusters)).write.mode("overwrite").parquet(str(out / "kept"))
        near.clusters.select("doc_id", "cluster").write.mode("overwrite").parquet(str(out / "clusters"))


def run_text_dedup(corpus: Path, out: Path, _tool: str) -> None:
    shim = out / "shim" / "graphframes"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(GRAPHFRAMES_SHIM)
    original = Path(importlib.util.find_spec("text_dedup").origin).parent / "minhash_spark.py"
    script = out / "minhash_spark.py"
    source = original.read_text()
    for old, new in TEXT_DEDUP_SIZING.items():
        assert old in source, f"text-dedup's script changed: no {old!r}"
        source = source.replace(old, new)
    script.write_text(source)
    import pyspark

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(shim.parent), str(ROOT / "lib")]),
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": sys.executable,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    spark_submit = Path(sys.executable).parent / "spark-submit"
    command = [str(spark_submit), "--master", "local[2]", "--driver-memory", DRIVER_MEMORY,
               "--conf", "spark.ui.enabled=false", str(script), "--input", str(corpus),
               "--output", str(out / "kept"), "--threshold", "0.8", "--ngram_size", "5", "--num_perm", "128",
               "--column", "text", "--index", "id",
               "--checkpoint_dir", str(out / "checkpoints"), "--debug"]  # fmt: skip
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def run_datatrove(corpus: Path, out: Path, _tool: str) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    from refinery.transforms.minhash import optimal_bands

    even = optimal_bands(0.8, 128)  # what text-dedup and datasketch choose for 0.8 / 128
    config = MinhashConfig(n_grams=5, num_buckets=even.bands, hashes_per_bucket=even.rows)

    def reader():
        return ParquetReader(str(corpus), text_key="text", id_key="id")

    def execute(steps, tasks, name):
        logs = str(out / "logs" / name)
        LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=2, logging_dir=logs).run()

    execute([reader(), MinhashDedupSignature(output_folder=str(out / "sigs"), config=config)], 8, "sigs")
    execute([MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=config)], even.bands, "buckets")
    execute([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config, save_cluster_id=True)],
            1, "clusters")  # fmt: skip
    execute(
        [
            reader(),
            MinhashDedupFilter(
                str(out / "remove"),
                exclusion_writer=JsonlWriter(str(out / "removed")),
                load_cluster_ids=True,
            ),
            JsonlWriter(str(out / "kept")),
        ],
        8,
        "filter",
    )


# ----------------------------------------------------------------------------- cluster assignments


def assignment(tool: str, out: Path) -> dict[str, str]:
    """doc id -> cluster label, for the docs a tool put in a cluster of two or more."""
    import pyarrow.parquet as pq

    if tool in REFINERY_SETTINGS:
        table = pq.read_table(out / "clusters")
        return dict(zip(table["doc_id"].to_pylist(), table["cluster"].to_pylist(), strict=True))
    if tool == "text-dedup":
        table = pq.read_table(Path(f"{out / 'kept'}-assignment") / "assignment.parquet")
        labels = dict(zip(table["id"].to_pylist(), map(str, table["component"].to_pylist()), strict=True))
        sizes: dict[str, int] = {}
        for label in labels.values():
            sizes[label] = sizes.get(label, 0) + 1
        return {doc: label for doc, label in labels.items() if sizes[label] > 1}
    import gzip

    labels = {}
    for folder in ("kept", "removed"):
        for path in (out / folder).glob("*.jsonl.gz"):
            with gzip.open(path, "rt") as lines:
                for line in lines:
                    doc = json.loads(line)
                    cluster = doc["metadata"].get("minhash_cluster_id", -1)
                    if cluster != -1:
                        labels[doc["id"]] = str(cluster)
    return labels


# ----------------------------------------------------------------------------- the parent


def peak_memory(pid: int, stop: threading.Event, peaks: dict[str, float]) -> None:
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        rss, names = {}, {}
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:  # a process of the tree may end between listing and reading it
                rss[p.pid], names[p.pid] = p.memory_info().rss, p.name()
            except psutil.Error:
                continue
        drivers = [p for p in tree if p.pid in rss and "java" not in names[p.pid]]
        java = [p for p in tree if p.pid in rss and "java" in names[p.pid]]
        peaks["tree"] = max(peaks.get("tree", 0), sum(rss.values()) / 2**20)
        driver = [p.pid for p in drivers[:1] + java]  # the job's Python process and its JVM, at one instant
        peaks["driver"] = max(peaks.get("driver", 0), sum(rss[pid] for pid in driver) / 2**20)
        if drivers:
            peaks["driver_python"] = max(peaks.get("driver_python", 0), rss[drivers[0].pid] / 2**20)
        if java:
            peaks["jvm"] = max(peaks.get("jvm", 0), max(rss[p.pid] for p in java) / 2**20)
        stop.wait(0.2)


def measure(tool: str, corpus: Path, out: Path) -> dict:
    command = [sys.executable, __file__, "--child", tool, "--corpus", str(corpus), "--out", str(out)]
    start = time.perf_counter()
    child = subprocess.Popen(command)
    stop, peaks = threading.Event(), {}
    sampler = threading.Thread(target=peak_memory, args=(child.pid, stop, peaks), daemon=True)
    sampler.start()
    code = child.wait()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{tool} failed with exit code {code}")
    return {"seconds": seconds, **{f"peak_{k}_mib": round(v) for k, v in peaks.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[20_000, 100_000, 1_000_000])
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--truth-max", type=int, default=20_000)  # exact truth in Python: fine at 20k, days at 1M
    parser.add_argument("--child", choices=TOOLS)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        others = {"text-dedup": run_text_dedup, "datatrove": run_datatrove}
        runners = {**dict.fromkeys(REFINERY_SETTINGS, run_refinery), **others}
        runners[args.child](args.corpus, args.out, args.child)
        return

    sys.path.insert(0, str(ROOT / "lib"))
    from dedup_corpus import make_corpus, write_parquet
    from dedup_quality import THRESHOLDS, cluster_scores, clusters_of, shingle_sets, true_pairs

    from refinery.config import load_config
    from refinery.transforms.minhash import MinHasher

    hasher = MinHasher(load_config("web_text", "local").dedup.minhash)
    results_file = ROOT / "bench" / "results" / "dedup_speed.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="refinery-dedup-bench-"))
    try:
        for docs in args.docs:
            corpus = make_corpus(docs)
            write_parquet(corpus, work / f"corpus-{docs}")
            truth = None
            if docs <= args.truth_max:
                start = time.perf_counter()
                pairs = true_pairs(shingle_sets([d.text for d in corpus]), min(THRESHOLDS))
                truth = clusters_of([p for p, j in pairs.items() if j >= hasher.threshold], len(corpus))
                print(f"{docs} docs: ground truth in {time.perf_counter() - start:.0f}s")
            for tool in args.tools:
                out = work / f"{tool}-{docs}"
                out.mkdir()
                row = measure(tool, work / f"corpus-{docs}", out)
                row["docs_per_s"] = docs / row["seconds"]
                if truth is not None:
                    labels = assignment(tool, out)
                    ours = [labels.get(d.doc_id, ("alone", i)) for i, d in enumerate(corpus)]
                    row["cluster_f1"] = cluster_scores(ours, truth)[2]
                results[f"{tool}@{docs}"] = row
                print(f"{tool} {docs}: {row}", flush=True)
                results_file.write_text(json.dumps(results, indent=2) + "\n")
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)


def print_table(results: dict) -> None:
    print(f"\n{'tool':<13} {'docs':>9} {'seconds':>8} {'docs/s':>8} {'cluster F1':>10} "
          f"{'driver MiB':>10} {'JVM MiB':>8} {'tree MiB':>8}")  # fmt: skip
    for key, row in sorted(results.items(), key=lambda kv: (int(kv[0].split("@")[1]), kv[0])):
        tool, docs = key.split("@")
        f1 = f"{row['cluster_f1']:.4f}" if "cluster_f1" in row else "-"
        print(f"{tool:<13} {int(docs):>9} {row['seconds']:>8.1f} {row['docs_per_s']:>8.0f} {f1:>10} "
              f"{row.get('peak_driver_python_mib', 0):>10} {row.get('peak_jvm_mib', 0):>8} "
              f"{row.get('peak_tree_mib', 0):>8}")  # fmt: skip
    for docs in sorted({int(k.split("@")[1]) for k in results}):
        for mine in REFINERY_SETTINGS:
            ours = results.get(f"{mine}@{docs}")
            for other in ("text-dedup", "datatrove"):
                theirs = results.get(f"{other}@{docs}")
                if ours and theirs:
                    print(f"{docs} docs: {mine} is {theirs['seconds'] / ours['seconds']:.2f}x faster than {other}")
    small, large = results.get("refinery@100000"), results.get("refinery@1000000")
    if small and large:
        print(
            f"refinery 100k -> 1M: time x{large['seconds'] / small['seconds']:.2f}, "
            f"driver peak RSS {small.get('peak_driver_python_mib')} -> {large.get('peak_driver_python_mib')} MiB"
        )


if __name__ == "__main__":
    main()
