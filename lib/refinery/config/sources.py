"""Where a pipeline's raw data comes from: the `ingest` section, its sources, and their framing options.

A source is files below a folder (framed by format: JSONL, JSON, CSV with `CsvOptions`, Parquet, text, WARC)
or Kafka topics (`KafkaOptions`, read by `refinery stream` only). `fields` says which raw field holds a text
record's id, text, url, source and meta (`refinery.transforms.params.RecordFields`).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Literal

from refinery import paths
from refinery.errors import ParameterError, require_positive
from refinery.transforms.params import RecordFields


@dataclass(frozen=True)
class CsvOptions:
    """How CSV sources are framed. Without a header, `column_names` names the columns (else _c0, _c1 ...)."""

    header: bool = True
    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    column_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("delimiter", "quote"):
            if len(getattr(self, key)) != 1:
                raise ParameterError(key, f"must be one character, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class KafkaOptions:
    """Where a `format: kafka` source reads: topics on a broker, one JSON object per message value."""

    bootstrap_servers: str = ""
    topics: list[str] = field(default_factory=list)
    starting_offsets: Literal["earliest", "latest"] = "earliest"  # where a new checkpoint starts
    max_offsets_per_trigger: int = 100_000  # messages per micro-batch at most
    fail_on_data_loss: bool = True  # stop when offsets were deleted (retention) before they were read
    options: dict[str, str] = field(default_factory=dict)  # more source options, e.g. kafka.security.protocol

    def __post_init__(self) -> None:
        require_positive("max_offsets_per_trigger", self.max_offsets_per_trigger)


@dataclass(frozen=True)
class SourceConfig:
    """One kind of raw data feeding the pipeline: files below `path` (relative to lake/raw/<pipeline> unless
    absolute), or with `format: kafka` the topics of `kafka`, read by `refinery stream` only."""

    name: str = "raw"
    format: Literal["jsonl", "json", "csv", "parquet", "text", "warc", "kafka"] = "jsonl"
    path: str | None = None
    glob: str = "*"
    fields: RecordFields = field(default_factory=RecordFields)
    csv: CsvOptions = field(default_factory=CsvOptions)
    kafka: KafkaOptions = field(default_factory=KafkaOptions)
    encoding: str | None = None  # text, csv and WARC payloads: this charset only (None: see refinery.io.charsets)
    check_digests: bool = False  # WARC: reject a record whose WARC-Block/Payload-Digest does not match
    # Record data: each row is an upsert in file order (true), a change with its operation and sequence (false),
    # or, unset, a snapshot row when it has neither field.
    snapshot: bool | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ParameterError("name", f"'{self.name}' must be snake_case")
        if self.encoding and self.encoding.lower() != "auto" and not _known_codec(self.encoding):
            raise ParameterError("encoding", f"source '{self.name}': unknown encoding {self.encoding!r}")
        if self.is_kafka and not (self.kafka.bootstrap_servers and self.kafka.topics):
            raise ParameterError("kafka", f"source '{self.name}' needs kafka.bootstrap_servers and kafka.topics")

    @property
    def is_kafka(self) -> bool:
        return self.format == "kafka"

    def folder(self, raw_root: str) -> str:
        """The source's folder: its `path` below the raw root, or where an absolute path or URI points."""
        if not self.path:
            return raw_root
        return self.path if paths.is_absolute(self.path) else paths.join(raw_root, self.path)


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


# ingest.follow_links: symbolic links below a source folder are followed when their target is inside the folder,
# always, or never (a link not followed is logged skipped, under its own name).
FOLLOW_LINKS = ("inside", "all", "none")


@dataclass(frozen=True)
class IngestConfig:
    """Raw files -> bronze, incrementally: each file is ingested once, in batches committed exactly once."""

    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig(glob="*.jsonl*")])
    max_record_chars: int = 5_000_000
    max_fields: int = 10_000
    reject_record_chars: int = 10_000
    max_files_per_batch: int = 100_000
    max_inflation: int = 200
    follow_links: str = "inside"

    def __post_init__(self) -> None:
        if self.follow_links not in FOLLOW_LINKS:
            raise ParameterError("follow_links", f"must be one of {', '.join(FOLLOW_LINKS)}, got {self.follow_links!r}")
        for key in ("max_record_chars", "max_fields", "reject_record_chars", "max_files_per_batch", "max_inflation"):
            require_positive(key, getattr(self, key))
        names = [source.name for source in self.sources]
        if not names:
            raise ParameterError("sources", "at least one source is needed")
        if len(set(names)) != len(names):
            raise ParameterError("sources", f"source names must be unique, got {names}")

    @property
    def file_sources(self) -> list[SourceConfig]:
        """The sources `refinery ingest` reads (files)."""
        return [source for source in self.sources if not source.is_kafka]

    @property
    def kafka_sources(self) -> list[SourceConfig]:
        """The sources only `refinery stream` reads (Kafka topics)."""
        return [source for source in self.sources if source.is_kafka]
