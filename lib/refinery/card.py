"""`refinery card`: a dataset card (card.md + PNG plots) for the current gold or a named release.

Every number comes from a small Spark aggregate over the tables (never a data-sized collect):
composition by split / lang / source, length distribution, rejects by stage and rule, PII
redactions in the docs that made it, the dedup rate, representativeness against the target shares in
`card.targets`, and a diff against the previous release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from pyspark.sql import DataFrame, Row  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from refinery import releases  # noqa: E402
from refinery.config import CardConfig, Config  # noqa: E402
from refinery.errors import InputNotFoundError  # noqa: E402
from refinery.lake import Lake  # noqa: E402
from refinery.ledger import run_that_wrote  # noqa: E402

GROUPS = ("split", "lang", "source")
LENGTH_BINS = (0, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


@dataclass
class Subject:
    """What the card describes: its rows and where they came from."""

    title: str
    rows: DataFrame
    gold_version: int
    silver_dedup_version: int | None
    previous: Row | None  # the release to diff against
    release: Row | None = None
    notes: list[str] = field(default_factory=list)


def write_card(lake: Lake, config: Config, out: str | Path, *, release: str | None = None) -> Path:
    """Write `<out>/card.md` and its plots; return the card's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    subject = _subject(lake, config, release)
    composition = {by: _by(subject.rows, by) for by in GROUPS}
    lines = [f"# Dataset card: {subject.title}", ""]
    lines += _overview(subject, config, composition["split"])
    lines += _composition_section(composition, out)
    lines += _length_section(subject.rows, out)
    lines += _rejects_section(lake, config.pipeline, out)
    lines += _pii_and_dedup_section(lake, config.pipeline, subject)
    lines += _representativeness_section(composition, config.card, out)
    lines += _diff_section(lake, config.pipeline, subject)
    path = out / "card.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- subject


def _subject(lake: Lake, config: Config, name: str | None) -> Subject:
    pipeline = config.pipeline
    known = releases.list_releases(lake, pipeline)
    if name is not None:
        release = next((r for r in known if r.name == name), None)
        if release is None:
            raise InputNotFoundError(f"no release '{name}' for pipeline {pipeline}; see `refinery release list`")
        index = known.index(release)
        return Subject(
            title=f"{pipeline} release {name}",
            rows=releases.read_release(lake, pipeline, name),
            gold_version=release.gold_version,
            silver_dedup_version=release.input_versions.get("silver_dedup"),
            previous=known[index - 1] if index > 0 else None,
            release=release,
        )
    gold = lake.table("gold", pipeline)
    version = lake.version(gold)
    if version is None:
        raise InputNotFoundError(f"gold table {gold} does not exist; run `refinery run` first")
    publish = run_that_wrote(lake, "publish", gold, version)
    return Subject(
        title=f"{pipeline} gold (version {version}, not released)",
        rows=lake.read(gold, version),
        gold_version=version,
        silver_dedup_version=publish["input_version"] if publish else None,
        previous=known[-1] if known else None,
    )


def _by(rows: DataFrame, by: str) -> list[tuple[str, int, int]]:
    """(group, docs, tokens) per value of `by`, largest first. Docs count each doc once (copy 0)."""
    grouped = (
        rows.groupBy(by).agg(F.count_if(F.col("copy") == 0).alias("docs"), F.sum("n_tokens").alias("tokens")).collect()
    )  # one row per group
    return sorted(((r[by], r["docs"], r["tokens"] or 0) for r in grouped), key=lambda t: (-t[2], t[0]))


# ---------------------------------------------------------------------------------------- sections


def _overview(subject: Subject, config: Config, by_split: list[tuple[str, int, int]]) -> list[str]:
    docs, tokens = sum(d for _, d, _ in by_split), sum(t for _, _, t in by_split)
    lines = ["## Overview", "", f"- docs: {docs:,}", f"- tokens ({config.publish.tokenizer}): {tokens:,}"]
    lines.append(f"- gold version: {subject.gold_version}")
    if subject.release is not None:
        r = subject.release
        lines += [
            f"- release table: {r.table} (version {r.table_version}), created {r.created_at:%Y-%m-%d %H:%M} UTC",
            f"- config hash: {r.config_hash}, code version: {r.code_version}",
            "- input versions: " + ", ".join(f"{k} {v}" for k, v in sorted(r.input_versions.items())),
        ]
    return [*lines, ""]


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _composition_section(composition: dict[str, list[tuple[str, int, int]]], out: Path) -> list[str]:
    lines = ["## Composition", "", "![docs and tokens by split, lang and source](composition.png)", ""]
    for by in GROUPS:
        lines += [f"### By {by}", ""] + _table((by, "docs", "tokens"), composition[by])
    figure, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for column, by in enumerate(GROUPS):
        names = [str(g) for g, _, _ in composition[by]]
        axes[0][column].bar(names, [d for _, d, _ in composition[by]], color="#4c72b0")
        axes[0][column].set_title(f"docs by {by}")
        axes[1][column].bar(names, [t for _, _, t in composition[by]], color="#dd8452")
        axes[1][column].set_title(f"tokens by {by}")
    _save(figure, out / "composition.png")
    return lines


def _length_section(rows: DataFrame, out: Path) -> list[str]:
    bucket = F.lit(LENGTH_BINS[-1])
    for low, high in reversed(list(zip(LENGTH_BINS, LENGTH_BINS[1:], strict=False))):
        bucket = F.when(F.col("n_tokens") < high, F.lit(low)).otherwise(bucket)
    counted = rows.where("copy = 0").groupBy(bucket.alias("bucket")).count().collect()  # one row per bin
    counts = {r["bucket"]: r["count"] for r in counted}
    quantiles = (
        rows.where("copy = 0")
        .select(F.percentile_approx("n_tokens", [0.5, 0.9, 0.99]).alias("q"), F.max("n_tokens").alias("max"))
        .first()
    )
    table = []
    for i, low in enumerate(LENGTH_BINS):
        label = f"{low}-{LENGTH_BINS[i + 1] - 1}" if i + 1 < len(LENGTH_BINS) else f"{low}+"
        table.append((label, counts.get(low, 0)))
    p50, p90, p99 = quantiles["q"] or [0, 0, 0]
    lines = ["## Document length (tokens)", "", "![length distribution](lengths.png)", ""]
    lines += [f"Median {p50:,}, p90 {p90:,}, p99 {p99:,}, longest {quantiles['max'] or 0:,} tokens.", ""]
    lines += _table(("tokens", "docs"), table)
    figure, axis = plt.subplots(figsize=(9, 3.5))
    axis.bar([label for label, _ in table], [n for _, n in table], color="#55a868")
    axis.set_xlabel("tokens per doc")
    axis.set_ylabel("docs")
    axis.tick_params(axis="x", rotation=30)
    _save(figure, out / "lengths.png")
    return lines


def _rejects_section(lake: Lake, pipeline: str, out: Path) -> list[str]:
    ref = lake.table("rejects", pipeline)
    if not lake.exists(ref):
        return ["## Rejected rows", "", "No rejects table.", ""]
    grouped = lake.read(ref).groupBy("stage", "rule").count().collect()  # one row per (stage, rule)
    order = {"ingest": 0, "curate": 1, "dedup": 2, "publish": 3}
    rows = sorted(((r["stage"], r["rule"], r["count"]) for r in grouped), key=lambda t: (order.get(t[0], 9), -t[2]))
    lines = ["## Rejected rows", "", "![rejects by stage and rule](rejects.png)", ""]
    lines += _table(("stage", "rule", "rows"), rows)
    figure, axis = plt.subplots(figsize=(9, max(2.5, 0.3 * len(rows))))
    axis.barh([f"{s} / {r}" for s, r, _ in rows][::-1], [n for _, _, n in rows][::-1], color="#c44e52")
    axis.set_xlabel("rows")
    _save(figure, out / "rejects.png")
    return lines


def _pii_and_dedup_section(lake: Lake, pipeline: str, subject: Subject) -> list[str]:
    lines = ["## Privacy and duplicates", ""]
    silver_dedup = lake.table("silver_dedup", pipeline)
    if subject.silver_dedup_version is not None and lake.exists(silver_dedup):
        docs = subject.rows.where("copy = 0").select("doc_id")
        source = lake.read(silver_dedup, subject.silver_dedup_version).select("doc_id", "pii")
        redactions = (
            source.join(docs, "doc_id", "left_semi")
            .select(F.explode("pii").alias("kind", "n"))
            .groupBy("kind")
            .agg(F.sum("n").alias("n"))
            .collect()  # one row per PII kind
        )
        rows = sorted(((r["kind"], r["n"]) for r in redactions), key=lambda t: (-t[1], t[0]))
        lines += ["PII redacted (replaced by a typed placeholder) in the docs of this dataset:", ""]
        lines += _table(("kind", "redactions"), rows) if rows else ["None found.", ""]
    else:
        lines += ["PII counts unavailable: the silver_dedup version behind this gold is unknown.", ""]
    dedup = run_that_wrote(lake, "dedup", silver_dedup, subject.silver_dedup_version)
    if dedup is not None:
        metrics = dedup["metrics"]
        lines += [
            f"Dedup removed {dedup['rows_rejected']:,} of {dedup['rows_in']:,} docs (dup rate "
            f"{metrics.get('dup_rate', '?')}): exact {metrics.get('rejected.exact', '0')}, "
            f"near-duplicate (MinHash) {metrics.get('rejected.minhash', '0')}.",
            "",
        ]
    return lines


def _representativeness_section(
    composition: dict[str, list[tuple[str, int, int]]], cfg: CardConfig, out: Path
) -> list[str]:
    lines = ["## Representativeness", ""]
    if not cfg.targets:
        return [*lines, "No target shares configured (`card.targets`).", ""]
    measure = 1 if cfg.measure == "docs" else 2
    figure, axes = plt.subplots(1, len(cfg.targets), figsize=(5 * len(cfg.targets), 3.5), squeeze=False)
    for column, (by, targets) in enumerate(sorted(cfg.targets.items())):
        actual_counts = {str(group[0]): group[measure] for group in composition[by]}
        total = sum(actual_counts.values()) or 1
        names = sorted(set(actual_counts) | set(targets))
        rows, findings = [], []
        for name in names:
            actual, target = actual_counts.get(name, 0) / total, targets.get(name, 0.0)
            skew = actual - target
            flagged = abs(skew) > cfg.skew_threshold
            rows.append((name, actual, target, skew, "yes" if flagged else ""))
            if flagged:
                findings.append(_skew_sentence(by, name, actual, target, cfg.measure))
        lines += [f"### {by} (share of {cfg.measure}, flagged beyond ±{cfg.skew_threshold:.0%})", ""]
        lines += _table((by, "actual", "target", "skew", "flagged"), rows)
        lines += [f"- {sentence}" for sentence in findings] or [f"- Every {by} is within the threshold."]
        lines.append("")
        axis = axes[0][column]
        positions = range(len(names))
        axis.bar([p - 0.2 for p in positions], [r[1] for r in rows], width=0.4, label="actual", color="#4c72b0")
        axis.bar([p + 0.2 for p in positions], [r[2] for r in rows], width=0.4, label="target", color="#bbbbbb")
        axis.set_xticks(list(positions), names)
        axis.set_title(f"share of {cfg.measure} by {by}")
        axis.legend()
    _save(figure, out / "representativeness.png")
    return ["## Representativeness", "", "![actual vs target shares](representativeness.png)", ""] + lines[2:]


def _skew_sentence(by: str, name: str, actual: float, target: float, measure: str) -> str:
    direction = "over-represented" if actual > target else "under-represented"
    if target == 0:
        return f"{by} `{name}` is {actual:.1%} of {measure} but has no target share: not planned for."
    return (
        f"{by} `{name}` is {actual:.1%} of {measure} against a target of {target:.1%} "
        f"({(actual - target) * 100:+.1f} points): {direction}."
    )


def _diff_section(lake: Lake, pipeline: str, subject: Subject) -> list[str]:
    lines = ["## Changes since the previous release", ""]
    previous = subject.previous
    if previous is None:
        return [*lines, "This is the first release.", ""]
    before = releases.read_release(lake, pipeline, previous.name).where("copy = 0")
    after = subject.rows.where("copy = 0")
    keyed = [F.col("doc_id"), F.xxhash64("text").alias("text_hash"), "lang", "source"]
    joined = before.select(*keyed).alias("b").join(after.select(*keyed).alias("a"), "doc_id", "full_outer")
    changes = joined.agg(
        F.count_if(F.col("b.text_hash").isNull()).alias("added"),
        F.count_if(F.col("a.text_hash").isNull()).alias("removed"),
        F.count_if(F.col("a.text_hash") != F.col("b.text_hash")).alias("changed"),
        F.count_if(F.col("a.text_hash") == F.col("b.text_hash")).alias("unchanged"),
    ).first()
    lines += [f"Against release `{previous.name}` (gold version {previous.gold_version}):", ""]
    lines += _table(
        ("added", "removed", "changed", "unchanged"),
        [(changes["added"], changes["removed"], changes["changed"], changes["unchanged"])],
    )
    for by in ("lang", "source"):
        old, new = _shares(before, by), _shares(after, by)
        rows = [(g, old.get(g, 0.0), new.get(g, 0.0), new.get(g, 0.0) - old.get(g, 0.0)) for g in sorted(old | new)]
        lines += [f"Share of docs by {by}:", ""] + _table((by, "before", "after", "change"), rows)
    return lines


def _shares(rows: DataFrame, by: str) -> dict[str, float]:
    counts = {r[by]: r["count"] for r in rows.groupBy(by).count().collect()}  # one row per group
    total = sum(counts.values()) or 1
    return {str(k): v / total for k, v in counts.items()}


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
