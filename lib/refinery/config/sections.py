"""The sections of a pipeline's config, and `Config`, the tree they make.

Every section is a frozen dataclass whose defaults are the defaults (conf/base.yaml documents them, and a test
keeps the two equal); sections that configure a transform are that transform's own parameter class
(`curate.c4` is `refinery.transforms.params.C4Params` ...), and the `ingest` section's sources are in
`refinery.config.sources`, so each parameter is declared once, next to the code that uses it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from refinery import pipelines
from refinery.config.layers import to_plain
from refinery.config.sources import IngestConfig
from refinery.config.tabular import TabularConfig
from refinery.errors import ParameterError, require_positive, require_range
from refinery.transforms.params import (
    SPLIT_NAMES,
    C4Params,
    FineWebParams,
    GopherQualityParams,
    GopherRepetitionParams,
    HtmlParams,
    Keep,
    LanguageParams,
    MixtureParams,
    NearDedupParams,
    PiiActions,
    check_field,
    group_column,
)

MAX_SHARDS = 1_000_000
# Spark settings every session gets unless a layer says otherwise: times in UTC, an overwrite replaces what its
# predicate names, and the lease's renewal jobs run in a pool of their own (FAIR), taking the next free core: under
# FIFO they waited behind a whole curate stage at 1M docs (18 min) while the 180 s lease expired.
SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.scheduler.mode": "FAIR",
}


@dataclass(frozen=True)
class LakeConfig:
    """Where tables live: a path root, or Unity Catalog / metastore names when `catalog` is set."""

    root: str = "./lake"
    catalog: str | None = None
    schema: str = "refinery"
    lease_ttl_seconds: int = 180  # a writer's lease on a pipeline lasts this long unless renewed (every third)
    lease_wait_seconds: int = 900  # how long a command waits for another run's lease before it gives up
    private_files: bool = False  # what a command and its local JVM create is readable by its user only (umask 077)

    def __post_init__(self) -> None:
        require_range("lease_ttl_seconds", self.lease_ttl_seconds, 3, 86_400)
        require_range("lease_wait_seconds", self.lease_wait_seconds, 0, 86_400 * 7)


@dataclass(frozen=True)
class SparkConfig:
    """How to get a SparkSession when none is active (an active one is always reused as is)."""

    master: str | None = None
    app_name: str = "refinery"
    jars_dir: str | None = None
    class_archive: str | None = None  # local JVMs map classes from this CDS archive (refinery.class_archive)
    packages: list[str] = field(default_factory=list)
    log_level: str = "ERROR"  # Spark's own log level (WARN or INFO to debug Spark itself)
    conf: dict[str, str] = field(default_factory=lambda: dict(SPARK_DEFAULTS))
    # Each stage sets spark.sql.shuffle.partitions to its input's size / this (at least the cluster's cores);
    # AQE then merges what is still too small. None keeps spark.sql.shuffle.partitions as configured.
    shuffle_partition_mb: int | None = None
    # A stage with heavy Python work per row (curate) deals its input into a partition per this many stored MB,
    # so no task runs for minutes. None leaves the input as read.
    python_task_mb: int | None = 2

    def __post_init__(self) -> None:
        for name in ("shuffle_partition_mb", "python_task_mb"):
            if getattr(self, name) is not None:
                require_range(name, getattr(self, name), 1, 64 * 1024)


@dataclass(frozen=True)
class ConsoleConfig:
    """What a command prints besides Refinery's own lines and summary."""

    progress_seconds: int = 10  # a progress line per running stage at this cadence (0: none)
    spark_log: Literal["file", "console"] = "file"  # the JVM's own log and start-up lines: a log file, or stderr

    def __post_init__(self) -> None:
        require_range("progress_seconds", self.progress_seconds, 0, 86_400)


@dataclass(frozen=True)
class CurateConfig:
    """Bronze -> silver: normalization, HTML extraction, language ID, quality filters, PII policy."""

    lowercase_signals: bool = True  # content_hash (exact dedup) ignores case; the text keeps it
    html: HtmlParams = field(default_factory=HtmlParams)
    language: LanguageParams = field(default_factory=LanguageParams)
    gopher_repetition: GopherRepetitionParams = field(default_factory=GopherRepetitionParams)
    gopher_quality: GopherQualityParams = field(default_factory=GopherQualityParams)
    c4: C4Params = field(default_factory=C4Params)
    fineweb: FineWebParams = field(default_factory=FineWebParams)
    pii: PiiActions = field(default_factory=PiiActions)


@dataclass(frozen=True)
class DedupConfig:
    """Silver -> silver_dedup: exact duplicates, then near duplicates; one representative per cluster."""

    exact: bool = True
    keep: Keep = "smallest_doc_id"  # which doc of a cluster stays
    incremental: bool = True  # docs already deduped (in the signatures table) always stay; new ones are checked
    minhash: NearDedupParams = field(default_factory=NearDedupParams)


@dataclass(frozen=True)
class EvalSetConfig:
    """One evaluation set gold must not contain: a file (or folder) of records whose `fields` hold its text."""

    name: str
    path: str  # relative to the project folder (REFINERY_HOME or the working directory), or absolute / a URI
    format: Literal["jsonl", "parquet", "csv"] = "jsonl"
    fields: list[str] = field(default_factory=lambda: ["text"])

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ParameterError("name", f"'{self.name}' is not a plain name")
        if not self.fields:
            raise ParameterError("fields", f"eval set '{self.name}': list a field")


@dataclass(frozen=True)
class DecontaminationConfig:
    """Drop gold docs sharing an `ngram`-word n-gram with any evaluation set (GPT-3 / Llama practice: 13)."""

    enabled: bool = True
    ngram: int = 13
    eval_sets: list[EvalSetConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        require_positive("ngram", self.ngram)
        names = [s.name for s in self.eval_sets]
        if len(set(names)) != len(names):
            raise ParameterError("eval_sets", f"names must be unique, got {names}")


@dataclass(frozen=True)
class PublishConfig:
    """Silver_dedup -> gold: decontamination, group-aware splits, mixture, token counts, training layout."""

    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05})
    group_key: str = "doc_id"  # doc_id | url_host | meta.<key> | a column: one group never straddles splits
    num_shards: int = 8
    salt: str = "refinery-split-v1"
    tokenizer: Literal["cl100k_base", "o200k_base"] = "cl100k_base"
    target_file_mb: int = 128
    row_group_mb: int = 4  # Parquet row group size target (encoded bytes): the unit a loader rank reads alone
    mixture: MixtureParams = field(default_factory=MixtureParams)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)

    def __post_init__(self) -> None:
        if not self.splits:
            raise ParameterError("splits", f"name at least one split ({', '.join(SPLIT_NAMES)})")
        unknown = sorted(set(self.splits) - set(SPLIT_NAMES))
        if unknown:
            raise ParameterError(f"splits.{unknown[0]}", f"split names are {', '.join(SPLIT_NAMES)}")
        if any(ratio < 0 for ratio in self.splits.values()):
            raise ParameterError("splits", "ratios must be >= 0")
        if abs(sum(self.splits.values()) - 1.0) > 1e-6:
            raise ParameterError("splits", f"ratios must sum to 1, got {sum(self.splits.values()):g}")
        group_column(self.group_key)  # its syntax; load_config checks that the column exists
        require_range("num_shards", self.num_shards, 1, MAX_SHARDS)
        require_range("target_file_mb", self.target_file_mb, 1, 64 * 1024)
        require_range("row_group_mb", self.row_group_mb, 1, 1024)  # parquet.block.size is a 32-bit int


@dataclass(frozen=True)
class CardConfig:
    """The dataset card: target shares per group (e.g. lang: {en: 0.5, de: 0.2}) and when a skew is flagged."""

    targets: dict[str, dict[str, float]] = field(default_factory=dict)  # source | lang | split -> group -> share
    measure: Literal["docs", "tokens"] = "tokens"  # what a share counts
    skew_threshold: float = 0.05  # |actual - target| share above this is called out in words

    def __post_init__(self) -> None:
        for by, shares in self.targets.items():
            if by not in ("source", "lang", "split"):
                raise ParameterError(f"targets.{by}", "targets are by source, lang or split")
            if abs(sum(shares.values()) - 1.0) > 1e-6:
                raise ParameterError(f"targets.{by}", f"shares must sum to 1, got {sum(shares.values()):g}")


@dataclass(frozen=True)
class StreamConfig:
    """`refinery stream`: raw -> bronze -> silver in micro-batches every `trigger_seconds`."""

    trigger_seconds: int = 60
    max_files_per_trigger: int = 1000

    def __post_init__(self) -> None:
        require_positive("trigger_seconds", self.trigger_seconds)
        require_positive("max_files_per_trigger", self.max_files_per_trigger)


@dataclass(frozen=True)
class PrivacyConfig:
    """Pseudonyms from silver on. Their HMAC key is never in config: it is read from the environment variable
    `key_env`, or on Databricks from `secret_key` in the secret scope `secret_scope` (refinery.privacy.keys)."""

    key_env: str = "REFINERY_PRIVACY_KEY"
    secret_scope: str | None = None
    secret_key: str = "refinery-privacy-key"
    pseudonymize: list[str] = field(default_factory=list)  # url, source, meta.<key>: keyed tokens from silver on
    token_chars: int = 16  # hex characters of the HMAC kept in a token

    def __post_init__(self) -> None:
        require_range("token_chars", self.token_chars, 8, 64)
        for name in self.pseudonymize:
            check_field(name)


@dataclass(frozen=True)
class MaintainConfig:
    """`refinery maintain`: OPTIMIZE, VACUUM and log checkpoints of a pipeline's tables."""

    retention_hours: int = 168  # VACUUM keeps files that versions of the last this many hours need (Delta: 7 days)
    optimize: bool = True  # compact small files (never gold or releases: their files are the training layout)

    def __post_init__(self) -> None:
        require_range("retention_hours", self.retention_hours, 0, 24 * 365 * 10)


@dataclass(frozen=True)
class Config:
    """The resolved configuration of one pipeline in one environment."""

    pipeline: str
    env: str
    kind: str = "text"  # a kind refinery.pipelines declares: text documents, or record data (`tabular`)
    lake: LakeConfig = field(default_factory=LakeConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    card: CardConfig = field(default_factory=CardConfig)
    maintain: MaintainConfig = field(default_factory=MaintainConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    tabular: TabularConfig = field(default_factory=TabularConfig)
    # A folder of this pipeline's own table schemas (`<table>.yaml`, read before the kind's): by default
    # `schemas/<pipeline>/` of the project folder, when it has one.
    schemas: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in pipelines.KINDS:
            raise ParameterError("kind", f"'{self.kind}' is not a pipeline kind (known: {', '.join(pipelines.KINDS)})")

    @property
    def pipeline_kind(self) -> pipelines.Kind:
        """The declaration of this pipeline's kind: its stages, commands and the sections that decide its rows."""
        return pipelines.kind(self.kind)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @property
    def needs_privacy_key(self) -> bool:
        """Whether a run makes pseudonyms (fields, identifier columns, or a PII kind whose action is
        `pseudonymize`)."""
        wanted = {  # by the section that asks for pseudonyms; only the sections that decide the kind's rows count
            "curate": bool(self.privacy.pseudonymize) or "pseudonymize" in to_plain(self.curate.pii).values(),
            "tabular": bool(self.tabular.identifiers),
        }
        return any(wants for section, wants in wanted.items() if section in self.pipeline_kind.row_sections)

    @property
    def config_hash(self) -> str:
        """Hash of everything that decides the output rows (not where they are written or how Spark runs)."""
        return self.hash_of(self.pipeline_kind.row_sections)

    def hash_of(self, sections: tuple[str, ...]) -> str:
        """Hash of the pipeline's name and kind and of the config sections named."""
        decisive = ("pipeline", "kind", *sections)
        relevant = {k: v for k, v in self.to_dict().items() if k in decisive}
        canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
