"""Tombstones at work: flag rows that match a forgotten subject, knowing only the requests' keyed hashes.

For each row, the values a request could have named are hashed with the privacy key, the way
`refinery.privacy.deletion` hashed the requests: the doc id; every boundary prefix of the URL; every meta
`key=value`; and the word n-grams of the text, URL, source and meta values for each word count a
contains-request has (words split at spaces, and at markup too). A row with a hash among the tombstones is
flagged with rule `forgotten`; the detail never says which value matched. A forget also knows the literals it
was given (in memory, never stored): those match as substrings of the values, wherever they stand.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterator, Mapping

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, StringType

from refinery.rejects import FORGOTTEN
from refinery.transforms.rules import Rule, flag_rejects

URL_BOUNDARIES = "/?#"
MATCHED = "_matched"  # the hashes of the tombstones a row matches (`matched_requests`)


def words_of(text: str) -> list[str]:
    """The words a contains literal is matched by: runs of non-space characters, without surrounding
    punctuation that is not part of an address (`ada@example.org.` -> `ada@example.org`)."""
    return [w for w in (token.strip(".,;:!?\"'()[]{}<>") for token in text.split()) if w]


_MARKUP = re.compile(r"[\s\"'<>()\[\]{},;=|\\]+")  # what separates values in JSON, HTML and query strings


def word_sequences(text: str) -> list[list[str]]:
    """The words of a document a contains literal can match: as `words_of` splits them, and split at markup too,
    so an address inside a page's JSON or attributes (`"owner":"ada@example.org"`) is a word of its own."""
    plain = words_of(text)
    markup = [w for w in (token.strip(".:!?") for token in _MARKUP.split(text)) if w]
    return [plain] if markup == plain else [plain, markup]


def tombstone_hash(key: bytes, kind: str, field: str, value: str) -> str:
    """HMAC-SHA256 of a request under the privacy key: what the tombstone stores instead of the value."""
    message = "\x1f".join((kind, field, value)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def url_prefix_candidates(url: str) -> list[str]:
    """Every prefix of `url` a url_prefix request can name: cut before each `/`, `?` or `#` after the host,
    with and without that `/`, and the whole URL."""
    match = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*", url)
    if not match:
        return []
    candidates = [url]
    for position in range(match.end(), len(url)):
        if url[position] in URL_BOUNDARIES:
            candidates.append(url[:position])
            if url[position] == "/":
                candidates.append(url[: position + 1])
    if match.end() == len(url):
        candidates.append(url + "/")
    return candidates


def row_hashes(
    key: bytes,
    doc_id: str | None,
    url: str | None,
    meta: dict | None,
    texts: list[str | None],
    ngram_sizes: Collection[int],
) -> Iterator[str]:
    """The keyed hashes of every value of one row a deletion request could name."""
    if doc_id is not None:
        yield tombstone_hash(key, "doc_id", "", doc_id)
    if url:
        for prefix in url_prefix_candidates(url):
            yield tombstone_hash(key, "url_prefix", "", prefix)
    for field, value in (meta or {}).items():
        if value is not None:
            yield tombstone_hash(key, "field", field, value)
    if ngram_sizes:
        for text in [*texts, url, *(meta or {}).values()]:
            for words in word_sequences(text) if text else ():
                for size in ngram_sizes:
                    for start in range(len(words) - size + 1):
                        yield tombstone_hash(key, "contains", "", " ".join(words[start : start + size]))


def row_matches(
    key: bytes,
    doc_id: str | None,
    url: str | None,
    meta: dict | None,
    texts: list[str | None],
    ngram_sizes: Collection[int],
    tombstones: Collection[str],
    literals: Mapping[str, str],
) -> set[str]:
    """The tombstones one row matches: by the keyed hashes of its values, and, for `literals` (a request's hash ->
    the literal a forget was given this run, in memory only), where the literal is a substring of a value."""
    found = {h for h in row_hashes(key, doc_id, url, meta, texts, ngram_sizes) if h in tombstones}
    values = [v for v in (*texts, url, *(meta or {}).values()) if v]
    return found | {h for h, literal in literals.items() if any(literal in value for value in values)}


def matched_requests(
    df: DataFrame,
    *,
    tombstones: Collection[str],
    key: bytes,
    ngram_sizes: Collection[int] = (),
    literals: Mapping[str, str] | None = None,
) -> DataFrame:
    """The tombstones each row matches (`row_matches`).

    Requires: `doc_id`, `url`, `meta` (map<string,string>), `text`, `source`. Adds: `_matched` (array<string>:
    the matched tombstones' hashes, empty when none).
    """
    hashes, sizes, found_in = frozenset(tombstones), tuple(sorted(set(ngram_sizes))), dict(literals or {})

    @pandas_udf(ArrayType(StringType()))
    def matched(doc_id: pd.Series, url: pd.Series, meta: pd.Series, text: pd.Series, source: pd.Series) -> pd.Series:
        return pd.Series(
            [
                sorted(row_matches(key, d, u, dict(m) if m is not None else None, [t, s], sizes, hashes, found_in))
                for d, u, m, t, s in zip(doc_id, url, meta, text, source, strict=True)
            ]
        )

    if not hashes and not found_in:
        return df.withColumn(MATCHED, F.array().cast("array<string>"))
    return df.withColumn(MATCHED, matched(F.col("doc_id"), F.col("url"), F.col("meta"), F.col("text"), F.col("source")))


def flag_forgotten(
    df: DataFrame, *, tombstones: Collection[str], key: bytes, ngram_sizes: Collection[int] = ()
) -> DataFrame:
    """Flag rows that match a tombstone (rule `forgotten`).

    Requires: `doc_id`, `url`, `meta` (map<string,string>), `text`, `source`. `tombstones`: the requests'
    keyed hashes; `ngram_sizes`: the word counts of the contains-requests among them. Adds: the reject flags.
    """
    if not tombstones:
        return flag_rejects(df, [])
    found = matched_requests(df, tombstones=tombstones, key=key, ngram_sizes=ngram_sizes)
    rule = Rule(FORGOTTEN.name, F.size(MATCHED) > 0, F.lit("matches a deletion request"))
    return flag_rejects(found, [rule]).drop(MATCHED)
