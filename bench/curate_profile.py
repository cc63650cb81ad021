"""Where curate's time goes: each step's Python work per document, and each step's cost inside Spark.

Part 1 (no Spark): the Python references of curate's steps, timed one step at a time over the same
documents on one core: HTML main text, NFC, language ID, each quality filter (tokenizing included),
the PII scan; then the compiled kernels the stage runs instead, in batches. Part 2 (a warm local[2]
session): the curate transforms applied one more at a time over the corpus read from JSONL, each prefix
written to Spark's `noop` sink; the difference between prefixes is what a step costs in the stage (Arrow
conversion and Python workers included).

    .venv/bin/python bench/curate_profile.py [--corpus DIR] [--docs 10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def read_docs(corpus: Path, limit: int) -> list[dict]:
    docs: list[dict] = []
    for path in sorted(corpus.glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("text"), str):
                    docs.append(doc)
    return docs[:limit]


def clock(step: str, texts: list, work) -> float:
    start = time.perf_counter()
    for text in texts:
        work(text)
    seconds = time.perf_counter() - start
    print(f"  {step:<28} {seconds:7.2f} s  {seconds / max(len(texts), 1) * 1e6:8.0f} µs/doc ({len(texts)} docs)")
    return seconds


def python_steps(docs: list[dict]) -> dict[str, float]:
    """Each step's own Python work on one core, in curate's order."""
    import unicodedata

    from resiliparse.extract.html2text import extract_plain_text

    from refinery.config import load_config
    from refinery.transforms.language import detect
    from refinery.transforms.pii import scan
    from refinery.transforms.quality import QualityFilters, words_of

    cfg = load_config("web_text", "local").curate
    texts = [doc["text"] for doc in docs]
    pages = [t for t in texts if t.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))]
    print("Python, one core:")
    times = {"html": clock("html main text", pages, lambda p: extract_plain_text(p, main_content=True))}
    times["nfc"] = clock("nfc", texts, lambda t: t.isascii() or unicodedata.is_normalized("NFC", t))
    langs = {}
    times["language"] = clock("language id", texts, lambda t: langs.__setitem__(t, detect(t)[0]))
    times["tokenize"] = clock("words (spaCy-like)", texts, words_of)
    for name in FILTERS:
        alone = {f: replace(getattr(cfg, f), enabled=(f == name)) for f in FILTERS}
        filters = QualityFilters(**alone)
        times[name] = clock(f"{name} (+ words)", texts, lambda t, f=filters: f.check(t, langs[t]))
    actions = dataclasses.asdict(cfg.pii)
    times["pii"] = clock("pii scan", texts, lambda t: scan(t, actions))
    times |= kernel_steps(texts, [langs[t] for t in texts], cfg)
    return times


def kernel_steps(texts: list[str], langs: list[str], cfg) -> dict[str, float]:
    """The compiled kernels over the same documents in batches of 2,000, on one core (compiled beforehand)."""
    import gc

    from refinery.transforms.kernels.language import lid176
    from refinery.transforms.kernels.pii import find_pii_fast
    from refinery.transforms.language import MAX_CHARS
    from refinery.transforms.pii import scan
    from refinery.transforms.quality import QualityFilters

    filters = QualityFilters(cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb)
    actions = dataclasses.asdict(cfg.pii)
    batches = [slice(at, at + 2000) for at in range(0, len(texts), 2000)]
    gc.freeze()  # the Python steps' caches stay out of the collector's way, as in a fresh worker
    print("Compiled kernels, one core, batches of 2,000:")
    steps = {
        "language (kernel)": lambda b: lid176().detect(texts[b], MAX_CHARS),
        "four filters (kernel)": lambda b: filters.check_batch(texts[b], langs[b]),
        "pii scan (kernel)": lambda b: [scan(t, actions, find=find_pii_fast) for t in texts[b]],
    }
    times = {}
    for name, work in steps.items():
        work(slice(0, 10))  # loads the model, the cache
        start = time.perf_counter()
        for batch in batches:
            work(batch)
        seconds = time.perf_counter() - start
        times[name] = seconds
        print(f"  {name:<28} {seconds:7.2f} s  {seconds / max(len(texts), 1) * 1e6:8.0f} µs/doc ({len(texts)} docs)")
    return times


def spark_steps(corpus: Path) -> dict[str, float]:
    """Curate's transforms added one at a time, each prefix run to the noop sink in a warm session."""
    from pyspark.sql import functions as F

    from refinery.config import load_config
    from refinery.session import get_session
    from refinery.transforms.html import extract_main_text
    from refinery.transforms.language import add_language, flag_languages
    from refinery.transforms.pii import redact_pii
    from refinery.transforms.quality import QualityFilters, flag_quality
    from refinery.transforms.text import add_text_signals, normalize_text

    config = load_config("web_text", "local")
    cfg = config.curate
    spark = get_session(config.spark)
    filters = QualityFilters(cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb)
    schema = "id string, text string, url string"
    bronze = (
        spark.read.schema(schema).json(str(corpus / "*.jsonl*"))
        .where(F.col("text").isNotNull())
        .select(F.col("id").alias("doc_id"), "text", "url", F.lit(None).cast("map<string,string>").alias("meta"),
                F.lit(None).cast("string").alias("source"))
    )  # fmt: skip
    languages = {"keep": cfg.language.keep, "min_score": cfg.language.min_score}
    steps = [
        ("read", lambda df: df),
        ("html", lambda df: df.transform(extract_main_text, main_content=cfg.html.main_content)),
        ("normalize", lambda df: df.transform(normalize_text)),
        ("language", lambda df: df.transform(add_language).transform(flag_languages, **languages)),
        ("quality", lambda df: df.transform(flag_quality, filters)),
        ("pii", lambda df: df.transform(redact_pii, actions=dataclasses.asdict(cfg.pii), also=("url",))),
        ("signals", lambda df: df.transform(add_text_signals, lowercase=cfg.lowercase_signals)),
    ]
    bronze.write.format("noop").mode("overwrite").save()  # warm: JVM, file listing
    print("Spark, local[2], each prefix to the noop sink:")
    frame, previous, times = bronze, 0.0, {}
    for name, step in steps:
        frame = step(frame)
        start = time.perf_counter()
        frame.write.format("noop").mode("overwrite").save()
        total = time.perf_counter() - start
        times[name] = total - previous
        print(f"  + {name:<12} total {total:7.2f} s   this step {total - previous:6.2f} s")
        previous = total
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a folder of JSONL files (default: a new 10k-document corpus)")
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    if args.corpus is None:
        from corpus import make_corpus

        args.corpus = Path(tempfile.mkdtemp(prefix="refinery-curate-profile-"))
        make_corpus(args.docs, args.corpus)
    docs = read_docs(args.corpus, args.docs)
    result = {"docs": len(docs), "python_s": python_steps(docs)}
    if not args.skip_spark:
        result["spark_s"] = spark_steps(args.corpus)
    out = ROOT / "bench" / "results" / "curate_profile.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
