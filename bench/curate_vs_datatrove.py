"""Quality filters: refinery (Spark, one Arrow UDF) vs DataTrove (LocalPipelineExecutor), same thresholds.

Builds a JSONL corpus of real English prose that ships on this machine (the docstrings of installed
Python packages, split into paragraphs and recombined into documents by a seeded RNG, plus planted
repetitive and list-like documents), runs DataTrove's GopherRepetition -> GopherQuality -> C4Quality ->
FineWebQuality pipeline with 2 tasks, and the same four filters through refinery's `flag_quality` on a
2-core Spark session. Prints docs/s per core for both and their ratio, and per filter the share of
documents on which both make the same keep/drop decision (each filter judged alone on the same input).

    .venv/bin/python bench/curate_vs_datatrove.py [--docs 100000]   # needs: pip install -e .[bench]
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


# Packages walked for docstrings, and single modules (walking pyspark would import its worker entry points).
DOC_PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "email",
    "http",
    "json",
    "logging",
    "unittest",
    "asyncio",
    "xml",
    "urllib",
)
DOC_MODULES = ("pyspark.sql.dataframe", "pyspark.sql.functions.builtin", "pyspark.sql.readwriter", "pyspark.sql.column")


def paragraphs_from_docstrings() -> list[str]:
    """English paragraphs from the docstrings of large installed packages (real prose shipped on the machine)."""
    import contextlib
    import importlib
    import inspect
    import io
    import warnings

    found: set[str] = set()
    names: list[str] = list(DOC_MODULES)
    arguments, sys.argv = sys.argv, sys.argv[:1]  # a few modules read the command line when imported
    for package in DOC_PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        if hasattr(root, "__path__"):
            names += [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.") if "test" not in m.name]
    modules = []
    for name in names:
        try:
            # a few modules print (numpy.f2py its usage) or warn when imported: neither is wanted here
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                modules.append(importlib.import_module(name))
        except BaseException:  # noqa: BLE001 - any module that cannot import is skipped
            continue
    sys.argv = arguments
    for module in modules:
        for obj in [module, *vars(module).values()]:
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            for block in re.split(r"\n\s*\n", doc or ""):
                text = " ".join(block.split())
                if len(text) > 120 and text[0].isupper() and text.endswith(".") and ">>>" not in text:
                    found.add(text)
    return sorted(found)


def build_corpus(folder: Path, docs: int, files: int = 8, seed: int = 7) -> None:
    """`files` JSONL files (DataTrove gives each task whole files, so both tasks need some)."""
    rng = random.Random(seed)
    paragraphs = paragraphs_from_docstrings()
    print(f"{len(paragraphs)} distinct docstring paragraphs")
    folder.mkdir(parents=True, exist_ok=True)
    outs = [(folder / f"part-{i:02d}.jsonl").open("w", encoding="utf-8") for i in range(files)]
    for n in range(docs):
        kind = rng.random()
        chosen = rng.sample(paragraphs, rng.randint(1, 8))
        if kind < 0.05:  # repetitive boilerplate
            chosen = chosen[:2] * rng.randint(2, 5)
        elif kind < 0.10:  # list-like page: short lines
            chosen = [" ".join(p.split()[: rng.randint(2, 6)]) for p in chosen for _ in range(3)]
        separator = "\n\n" if rng.random() < 0.5 else "\n"
        outs[n % files].write(json.dumps({"id": f"d{n}", "text": separator.join(chosen)}) + "\n")
    for out in outs:
        out.close()


def datatrove_filters():
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_repetition": GopherRepetitionFilter,
        "gopher_quality": GopherQualityFilter,
        "c4": C4QualityFilter,
        "fineweb": FineWebQualityFilter,
    }


def run_datatrove(corpus: Path, out: Path, tasks: int = 2) -> float:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    steps = [JsonlReader(str(corpus), glob_pattern="*.jsonl")]
    steps += [make() for make in datatrove_filters().values()]
    steps.append(JsonlWriter(str(out)))
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=tasks, logging_dir=str(out / "logs")).run()
    return time.perf_counter() - start


def run_refinery(spark, corpus: Path, out: Path) -> float:
    from pyspark.sql import functions as F

    from refinery.config import load_config
    from refinery.transforms.quality import QualityFilters, flag_quality

    cfg = load_config("web_text", "local").curate
    filters = QualityFilters(cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb)
    docs = spark.read.json(str(corpus)).withColumn("lang", F.lit("en"))
    start = time.perf_counter()
    flag_quality(docs, filters).write.mode("overwrite").parquet(str(out))
    return time.perf_counter() - start


def agreement(corpus: Path, sample: int) -> dict[str, float]:
    """Per filter, alone: share of documents where DataTrove and refinery both keep or both drop."""
    from dataclasses import replace

    from datatrove.data import Document

    from refinery.config import load_config
    from refinery.transforms.quality import QualityFilters

    cfg = load_config("web_text", "local").curate
    theirs = {name: make() for name, make in datatrove_filters().items()}
    ours = {}
    for name in FILTERS:
        configs = {f: replace(getattr(cfg, f), enabled=(f == name)) for f in FILTERS}
        ours[name] = QualityFilters(**configs)
    same = dict.fromkeys(FILTERS, 0)
    differ: dict[str, list[str]] = {name: [] for name in FILTERS}
    lines = [line for path in sorted(corpus.glob("*.jsonl")) for line in path.read_text("utf-8").splitlines()]
    lines = lines[:sample]
    for line in lines:
        record = json.loads(line)
        for name in FILTERS:
            verdict = theirs[name].filter(Document(text=record["text"], id=record["id"]))
            their_keep = verdict is True or (isinstance(verdict, tuple) and verdict[0])
            our_keep = ours[name].check(record["text"], "en").rule is None
            if their_keep == our_keep:
                same[name] += 1
            elif len(differ[name]) < 3:
                differ[name].append(record["id"])
    for name, ids in differ.items():
        if ids:
            print(f"  {name}: first disagreements {', '.join(ids)}")
    return {name: same[name] / len(lines) for name in FILTERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--agreement-docs", type=int, default=20_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "lib"))
    from refinery.config import load_config
    from refinery.session import get_session

    work = Path(tempfile.mkdtemp(prefix="refinery-curate-bench-"))
    try:
        corpus = work / "corpus"
        build_corpus(corpus, args.docs)
        mb = sum(path.stat().st_size for path in corpus.glob("*.jsonl")) / 1e6
        spark = get_session(load_config("web_text", "local").spark)
        run_refinery(spark, corpus, work / "warm")  # JVM, Python workers and the UDF warmed up
        ours = run_refinery(spark, corpus, work / "ours")
        theirs = run_datatrove(corpus, work / "datatrove")
        rates = {"refinery": args.docs / ours / 2, "datatrove": args.docs / theirs / 2}
        print(f"\ncorpus: {args.docs} docs, {mb:.1f} MB, 2 cores each")
        print(f"{'':<10} {'seconds':>8} {'docs/s/core':>12}")
        print(f"{'datatrove':<10} {theirs:>8.1f} {rates['datatrove']:>12.0f}")
        print(f"{'refinery':<10} {ours:>8.1f} {rates['refinery']:>12.0f}")
        print(f"ratio refinery/datatrove docs/s per core: {rates['refinery'] / rates['datatrove']:.2f}x\n")
        agree = agreement(corpus, args.agreement_docs)
        print(f"{'filter':<18} {'same keep/drop':>14}")
        for name, share in agree.items():
            print(f"{name:<18} {share:>13.2%}")
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "curate_vs_datatrove.json").write_text(
            json.dumps(
                {
                    "docs": args.docs,
                    "mb": mb,
                    "seconds": {"refinery": ours, "datatrove": theirs},
                    "docs_per_s_per_core": rates,
                    "agreement": agree,
                },
                indent=2,
            )
            + "\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
