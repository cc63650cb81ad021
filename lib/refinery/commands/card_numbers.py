"""The numbers of a dataset card, computed from the lake (no markdown, no plots: `refinery.commands.card` draws them).

Every number comes from a small Spark aggregate over the tables (never a data-sized collect):
composition by split / lang / source, the length distribution, rejects by stage and rule, PII
redactions in the docs that made it, the dedup rate, representativeness against `card.targets`, and
the changes since the previous release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.config import CardConfig, Config
from refinery.errors import MissingInputError
from refinery.lake import releases
from refinery.lake.ledger import run_that_wrote
from refinery.lake.store import Lake

GROUPS = ("split", "lang", "source")
LENGTH_BINS = (0, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)

Counts = list[tuple[str, int, int]]  # (group, docs, tokens), largest first


@dataclass(frozen=True)
class Skew:
    """One group's share against its target."""

    group: str
    actual: float
    target: float

    @property
    def skew(self) -> float:
        return self.actual - self.target


@dataclass(frozen=True)
class Changes:
    """What changed against the previous release."""

    previous: str
    previous_gold_version: int
    added: int
    removed: int
    changed: int
    unchanged: int
    shares: dict[str, list[tuple[str, float, float]]]  # by lang / source: (group, before, after)


@dataclass
class CardNumbers:
    """Everything a card states, for the current gold or one release."""

    title: str
    tokenizer: str
    gold_version: int
    release: Row | None
    composition: dict[str, Counts]
    lengths: list[tuple[str, int]]  # (token range, docs)
    length_quantiles: tuple[int, int, int, int]  # p50, p90, p99, max
    rejects: list[tuple[str, str, int]] | None  # (stage, rule, rows); None: no rejects table
    pii: list[tuple[str, int]] | None  # (kind, redactions); None: the version of publish's input is unknown
    dedup: Row | None  # the ledger row of the dedup run behind this gold
    representativeness: dict[str, list[Skew]] = field(default_factory=dict)
    changes: Changes | None = None

    @property
    def docs(self) -> int:
        return sum(docs for _, docs, _ in self.composition["split"])

    @property
    def tokens(self) -> int:
        return sum(tokens for _, _, tokens in self.composition["split"])


@dataclass
class _Subject:
    title: str
    rows: DataFrame
    gold_version: int
    input_versions: dict[str, int]  # the versions gold was built from, by table (refinery.lake.releases)
    previous: Row | None
    release: Row | None = None


def card_numbers(lake: Lake, config: Config, release: str | None = None) -> CardNumbers:
    """The card's numbers for release `release`, or for the current gold when it is None."""
    subject = card_subject(lake, config, release)
    composition = {by: counts_by(subject.rows, by) for by in GROUPS}
    lengths, quantiles = _lengths(subject.rows)
    return CardNumbers(
        title=subject.title,
        tokenizer=config.publish.tokenizer,
        gold_version=subject.gold_version,
        release=subject.release,
        composition=composition,
        lengths=lengths,
        length_quantiles=quantiles,
        rejects=rejects_by_rule(lake, config),
        pii=_pii(lake, config, subject),
        dedup=_dedup_run(lake, config, subject.input_versions),
        representativeness=representativeness(composition, config.card),
        changes=_changes(lake, config.pipeline, subject),
    )


def counts_by(rows: DataFrame, by: str) -> Counts:
    """(group, docs, tokens) per value of `by`, largest first. Docs count each doc once (copy 0)."""
    grouped = (
        rows.groupBy(by).agg(F.count_if(F.col("copy") == 0).alias("docs"), F.sum("n_tokens").alias("tokens")).collect()
    )  # one row per group
    return sorted(((r[by], r["docs"], r["tokens"] or 0) for r in grouped), key=lambda t: (-t[2], t[0]))


def representativeness(composition: dict[str, Counts], cfg: CardConfig) -> dict[str, list[Skew]]:
    """Per configured grouping, each group's actual share (of docs or tokens) against its target."""
    measure = 1 if cfg.measure == "docs" else 2
    result = {}
    for by, targets in sorted(cfg.targets.items()):
        actual_counts = {str(group[0]): group[measure] for group in composition[by]}
        total = sum(actual_counts.values()) or 1
        names = sorted(set(actual_counts) | set(targets))
        result[by] = [Skew(name, actual_counts.get(name, 0) / total, targets.get(name, 0.0)) for name in names]
    return result


def card_subject(lake: Lake, config: Config, name: str | None) -> _Subject:
    """What a card describes: release `name`, or the current gold when it is None, with the version of publish's
    input it was built from and the release before it."""
    pipeline, kind = config.pipeline, config.pipeline_kind
    known = releases.list_releases(lake, pipeline)
    if name is not None:
        release = next((r for r in known if r.name == name), None)
        if release is None:
            raise releases.release_not_found(pipeline, name)
        index = known.index(release)
        return _Subject(
            title=f"{pipeline} release {name}",
            rows=releases.read_release(lake, pipeline, name),
            gold_version=release.gold_version,
            input_versions=dict(release.input_versions or {}),
            previous=known[index - 1] if index > 0 else None,
            release=release,
        )
    gold = lake.table(kind.last.writes, pipeline)
    version = lake.version(gold)
    if version is None:
        raise MissingInputError(str(gold), kind.last.name)
    publish = run_that_wrote(lake, kind.last.name, gold, version)
    return _Subject(
        title=f"{pipeline} gold (version {version}, not released)",
        rows=lake.read(gold, version),
        gold_version=version,
        input_versions=releases.input_versions(lake, config, publish),
        previous=known[-1] if known else None,
    )


def _lengths(rows: DataFrame) -> tuple[list[tuple[str, int]], tuple[int, int, int, int]]:
    bucket = F.lit(LENGTH_BINS[-1])
    for low, high in reversed(list(zip(LENGTH_BINS, LENGTH_BINS[1:], strict=False))):
        bucket = F.when(F.col("n_tokens") < high, F.lit(low)).otherwise(bucket)
    docs = rows.where("copy = 0")
    counts = {r["bucket"]: r["count"] for r in docs.groupBy(bucket.alias("bucket")).count().collect()}  # per bin
    quantiles = docs.select(
        F.percentile_approx("n_tokens", [0.5, 0.9, 0.99]).alias("q"), F.max("n_tokens").alias("max")
    ).first()
    table = []
    for i, low in enumerate(LENGTH_BINS):
        label = f"{low}-{LENGTH_BINS[i + 1] - 1}" if i + 1 < len(LENGTH_BINS) else f"{low}+"
        table.append((label, counts.get(low, 0)))
    p50, p90, p99 = quantiles["q"] or [0, 0, 0]
    return table, (p50, p90, p99, quantiles["max"] or 0)


def rejects_by_rule(lake: Lake, config: Config) -> list[tuple[str, str, int]] | None:
    """(stage, rule, rows) of the pipeline's rejects, in stage order, the largest first (None: no rejects table)."""
    ref = lake.table("rejects", config.pipeline)
    if not lake.exists(ref):
        return None
    grouped = lake.read(ref).groupBy("stage", "rule").count().collect()  # one row per (stage, rule)
    order = {stage: i for i, stage in enumerate(config.pipeline_kind.stage_names)}
    return sorted(((r["stage"], r["rule"], r["count"]) for r in grouped), key=lambda t: (order.get(t[0], 9), -t[2]))


def _dedup_run(lake: Lake, config: Config, versions: dict[str, int]) -> Row | None:
    """The ledger row of the dedup run that wrote the version of its output gold was built from."""
    dedup = config.pipeline_kind.stage("dedup")
    return run_that_wrote(lake, dedup.name, lake.table(dedup.writes, config.pipeline), versions.get(dedup.writes))


def _pii(lake: Lake, config: Config, subject: _Subject) -> list[tuple[str, int]] | None:
    """PII redactions by kind in the documents the card describes, from publish's input at its version."""
    pipeline, kind = config.pipeline, config.pipeline_kind
    silver_dedup = lake.table(kind.last.reads, pipeline)
    version = subject.input_versions.get(kind.last.reads)
    if version is None or not lake.exists(silver_dedup):
        return None
    docs = subject.rows.where("copy = 0").select("doc_id")
    source = lake.read(silver_dedup, version).select("doc_id", "pii")
    redactions = (
        source.join(docs, "doc_id", "left_semi")
        .select(F.explode("pii").alias("kind", "n"))
        .groupBy("kind")
        .agg(F.sum("n").alias("n"))
        .collect()  # one row per PII kind
    )
    return sorted(((r["kind"], r["n"]) for r in redactions), key=lambda t: (-t[1], t[0]))


def _changes(lake: Lake, pipeline: str, subject: _Subject) -> Changes | None:
    previous = subject.previous
    if previous is None:
        return None
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
    shares = {}
    for by in ("lang", "source"):
        old, new = _shares(before, by), _shares(after, by)
        shares[by] = [(g, old.get(g, 0.0), new.get(g, 0.0)) for g in sorted(old | new)]
    return Changes(
        previous=previous.name,
        previous_gold_version=previous.gold_version,
        added=changes["added"],
        removed=changes["removed"],
        changed=changes["changed"],
        unchanged=changes["unchanged"],
        shares=shares,
    )


def _shares(rows: DataFrame, by: str) -> dict[str, float]:
    counts = {r[by]: r["count"] for r in rows.groupBy(by).count().collect()}  # one row per group
    total = sum(counts.values()) or 1
    return {str(k): v / total for k, v in counts.items()}
