"""Deletion requests (what `refinery forget` takes) and the keyed tombstones they leave behind.

A request names a subject four ways: a document id, a URL prefix (a site's opt-out), a meta field's value
(`meta.author=ada`), or a literal the text contains (an e-mail address). Its tombstone keeps only
HMAC-SHA256(key, kind | field | value): a later run can tell that a row matches a forgotten subject
(`refinery.transforms.forgotten`) without anyone being able to read the subject back out of the lake.

A URL prefix is cut at a boundary: it matches the URL itself and URLs that continue it with `/`, `?` or
`#` (or anything, when it ends with `/`), so `https://site.example/blog` never reaches `.../blogroll`. A
contains literal is matched later by its words: the tombstone also keeps how many words it has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.config import PrivacyConfig
from refinery.errors import UsageError
from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake, WriteResult
from refinery.privacy.keys import privacy_key
from refinery.transforms.forgotten import flag_forgotten, tombstone_hash, words_of
from refinery.transforms.pii import lineage_safe

KINDS = ("doc_id", "url_prefix", "field", "contains")
_URL_PREFIX = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#\s]+(?:[/?#]\S*)?")
_FIELD = re.compile(r"meta\.([^=\s]+)=(.+)", re.S)


class BadRequestError(UsageError):
    """A deletion request that cannot be understood; the message never repeats its value."""


@dataclass(frozen=True)
class Request:
    """One subject to forget: `kind` (KINDS), `value`, and for `field` the meta key."""

    kind: str
    value: str
    field: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadRequestError(f"unknown request kind '{self.kind}' (known: {', '.join(KINDS)})")
        if not self.value or not self.value.strip():
            raise BadRequestError(f"a {self.kind} request needs a value")
        if self.kind == "url_prefix" and not _URL_PREFIX.fullmatch(self.value):
            raise BadRequestError("a url_prefix request must start with scheme://host")
        if self.kind == "field" and not self.field:
            raise BadRequestError("a field request needs meta.KEY=VALUE")

    def hash(self, key: bytes) -> str:
        """The request's keyed hash: its tombstone. A doc id is hashed as ingest spells ids (`lineage_safe`)."""
        value = lineage_safe(self.value.strip()) if self.kind == "doc_id" else self.value
        return tombstone_hash(key, self.kind, self.field, value)

    @property
    def words(self) -> int:
        """How many words a `contains` literal has (0 for the other kinds)."""
        return len(words_of(self.value)) if self.kind == "contains" else 0


def field_request(text: str) -> Request:
    """`meta.KEY=VALUE` as a request."""
    match = _FIELD.fullmatch(text)
    if not match:
        raise BadRequestError("a field request is meta.KEY=VALUE")
    return Request("field", match.group(2), field=match.group(1))


def read_requests(path: str | Path) -> list[Request]:
    """A JSONL file of requests, one object per line: {"doc_id": ...} | {"url_prefix": ...} |
    {"field": "meta.KEY=VALUE"} | {"contains": ...}. Errors name the line, never the value."""
    requests = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise BadRequestError(f"{path} line {number}: not a JSON object") from None
        if not isinstance(item, dict) or len(item) != 1 or not isinstance(next(iter(item.values())), str):
            raise BadRequestError(f"{path} line {number}: expected one of {', '.join(KINDS)} with a string value")
        ((kind, value),) = item.items()
        try:
            requests.append(field_request(value) if kind == "field" else Request(kind, value))
        except BadRequestError as exc:
            raise BadRequestError(f"{path} line {number}: {exc}") from None
    return requests


@dataclass(frozen=True)
class Tombstones:
    """A pipeline's tombstones: the requests' keyed hashes and the word counts of its contains-requests."""

    hashes: frozenset[str]
    ngram_sizes: frozenset[int]


def record_tombstones(lake: Lake, pipeline: str, requests: list[Request], key: bytes, run_id: str) -> WriteResult:
    """Add a tombstone per request (a request forgotten before adds nothing: MERGE on the hash)."""
    schema = table_schema("forgotten")
    at = datetime.now(UTC)
    rows = [
        Row(
            pipeline=pipeline,
            kind=r.kind,
            field=r.field,
            hash=r.hash(key),
            words=r.words,
            run_id=run_id,
            at=at,
        )
        for r in requests
    ]
    df = lake.spark.createDataFrame(rows, schema.struct).dropDuplicates(["hash"])
    return lake.insert_new(lake.table("forgotten"), df, schema, key="hash")


def load_tombstones(lake: Lake, pipeline: str) -> Tombstones:
    """The pipeline's tombstones (one small row per request ever made; empty before the first)."""
    ref = lake.table("forgotten")
    if not lake.exists(ref):
        return Tombstones(frozenset(), frozenset())
    rows = lake.read(ref).where(F.col("pipeline") == pipeline).select("hash", "words").collect()
    return Tombstones(frozenset(r["hash"] for r in rows), frozenset(r["words"] for r in rows if r["words"]))


def drop_forgotten(records: DataFrame, lake: Lake, pipeline: str, privacy: PrivacyConfig) -> DataFrame:
    """Flag the records that match one of the pipeline's tombstones (rule `forgotten`); the privacy key is
    needed only when there are tombstones."""
    tombstones = load_tombstones(lake, pipeline)
    if not tombstones.hashes:
        return records
    key = privacy_key(privacy, lake.spark)
    return records.transform(flag_forgotten, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes)
