"""Decontamination: flag documents that share a long word n-gram with an evaluation set.

An n-gram is `n` consecutive lower-cased words (13 by default, as in GPT-3 and Llama), hashed to 64
bits with the same word scan MinHash uses. The evaluation sets' n-grams are few (an eval set is
small), so they travel to every executor as one sorted numpy array and each document's n-grams
are looked up in it with a binary search; the documents never move.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from refinery.rejects import DECONTAMINATION
from refinery.transforms.ngrams import ngram_hashes, utf8_words, word_ngram_hashes
from refinery.transforms.rules import flag_computed

_MATCH = "_contaminated_by"


@dataclass(frozen=True)
class EvalNgrams:
    """The n-grams of named evaluation sets: sorted 64-bit hashes and, for each, its eval set's index."""

    n: int
    names: tuple[str, ...]
    hashes: np.ndarray  # uint64, sorted, distinct
    owners: np.ndarray  # int32 index into `names`, one per hash

    @classmethod
    def from_texts(cls, n: int, texts_by_set: Sequence[tuple[str, pa.Array]]) -> EvalNgrams:
        """Build from (eval set name, its texts). Texts shorter than `n` words have no n-gram that can match."""
        hashes, owners = [], []
        for index, (_name, texts) in enumerate(texts_by_set):
            words, word_counts = utf8_words(texts)
            grams, counts = ngram_hashes(words, word_counts, n)
            full = np.repeat(word_counts >= n, counts)  # a short text's one partial n-gram is dropped
            hashes.append(grams[full])
            owners.append(np.full(int(full.sum()), index, dtype=np.int32))
        all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        all_owners = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        order = np.lexsort((all_owners, all_hashes))  # for a hash in two sets, the first set names it
        all_hashes, all_owners = all_hashes[order], all_owners[order]
        first = np.ones(len(all_hashes), dtype=bool)
        first[1:] = all_hashes[1:] != all_hashes[:-1]
        return cls(
            n=n, names=tuple(name for name, _ in texts_by_set), hashes=all_hashes[first], owners=all_owners[first]
        )

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, texts: pa.Array) -> list[str | None]:
        """For each text, the name of the first eval set one of its n-grams belongs to, or None."""
        grams, counts = word_ngram_hashes(texts, self.n)
        found = np.full(len(counts), -1, dtype=np.int64)
        if len(self.hashes) and len(grams):
            at = np.minimum(np.searchsorted(self.hashes, grams), len(self.hashes) - 1)
            hit = self.hashes[at] == grams
            hit_docs = np.repeat(np.arange(len(counts)), counts)[hit]
            docs, first_hit = np.unique(hit_docs, return_index=True)  # a document's first hit names the set
            found[docs] = self.owners[at[hit]][first_hit]
        return [self.names[i] if i >= 0 else None for i in found]


def flag_contaminated(df: DataFrame, ngrams: EvalNgrams, *, text_column: str = "text") -> DataFrame:
    """Flag documents sharing an `ngrams.n`-word n-gram with an evaluation set (rule `decontamination`).

    Requires: `text_column`. Adds: `_reject_rule`, `_reject_detail` (naming the eval set).
    """
    schema = StructType([*df.schema.fields, StructField(_MATCH, StringType(), True)])
    n = ngrams.n

    def lookup(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            matched = pa.array(ngrams.matches(batch.column(text_column)), type=pa.string())
            yield pa.RecordBatch.from_arrays([*batch.columns, matched], names=[*batch.schema.names, _MATCH])

    found = df.mapInArrow(lookup, schema)
    detail = F.concat(F.lit(f"shares a {n}-word n-gram with eval set "), F.col(_MATCH))
    rule = F.when(F.col(_MATCH).isNotNull(), F.lit(DECONTAMINATION.name))
    return flag_computed(found, rule, F.when(F.col(_MATCH).isNotNull(), detail)).drop(_MATCH)
