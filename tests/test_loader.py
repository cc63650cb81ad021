"""The Spark-free loader: exact coverage across ranks and workers, equal parts, per-epoch order."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from chispa import assert_df_equality

from refinery.loader import ReleaseNotFoundError, ReleaseStream, iter_batches, reader_range

RANKS, WORKERS = 4, 2


def read_all(lake, split, **options):
    """Rows of every (rank, worker) reader: {(rank, worker): [(doc_id, copy), ...]}."""
    return {
        (rank, worker): [
            (d, c)
            for batch in iter_batches(
                str(lake), "web_text", "r2", split, rank, RANKS, worker, WORKERS, batch_size=64, **options
            )
            for d, c in zip(batch.column("doc_id").to_pylist(), batch.column("copy").to_pylist(), strict=True)
        ]
        for rank in range(RANKS)
        for worker in range(WORKERS)
    }


@pytest.mark.parametrize("split", ["train", "test"])
def test_four_ranks_by_two_workers_cover_each_row_exactly_once(spark, released_lake, split):
    parts = read_all(released_lake, split, epoch=3)
    seen = Counter(row for rows in parts.values() for row in rows)
    release = spark.read.format("delta").load(str(released_lake / "releases" / "web_text" / "r2"))
    expected = {(r.doc_id, r.copy) for r in release.where(f"split = '{split}'").select("doc_id", "copy").collect()}
    assert set(seen) == expected and max(seen.values()) == 1
    sizes = [len(rows) for rows in parts.values()]
    assert max(sizes) - min(sizes) <= 1


def test_an_epoch_is_reproducible_and_epochs_differ(released_lake):
    first, again, other = (read_all(released_lake, "train", epoch=e) for e in (1, 1, 2))
    assert first == again
    assert first != other
    assert sorted(r for rows in first.values() for r in rows) == sorted(r for rows in other.values() for r in rows)


def test_batches_have_the_asked_size_and_columns(spark, released_lake):
    batches = list(
        iter_batches(
            str(released_lake), "web_text", "r2", "train", batch_size=100, columns=["doc_id", "lang", "n_tokens"]
        )
    )
    assert [b.num_rows for b in batches[:-1]] == [100] * (len(batches) - 1) and 0 < batches[-1].num_rows <= 100
    assert batches[0].schema.names == ["doc_id", "lang", "n_tokens"]
    release = spark.read.format("delta").load(str(released_lake / "releases" / "web_text" / "r2"))
    expected = release.where("split = 'train'").select("doc_id", "lang", "n_tokens")
    loaded = spark.createDataFrame(pa.Table.from_batches(batches).to_pandas(), expected.schema)
    assert_df_equality(loaded, expected, ignore_row_order=True)


def test_reader_ranges_partition_the_rows():
    ranges = [reader_range(10, r, 8) for r in range(8)]
    assert ranges[0][0] == 0 and ranges[-1][1] == 10
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert {stop - start for start, stop in ranges} <= {1, 2}


def test_unknown_release_split_or_reader_is_a_clear_error(released_lake, tmp_path):
    with pytest.raises(ReleaseNotFoundError, match="no release 'nope' for pipeline web_text"):
        next(iter_batches(str(released_lake), "web_text", "nope", "train"))
    with pytest.raises(ReleaseNotFoundError, match="split 'holdout' is not in"):
        next(iter_batches(str(released_lake), "web_text", "r2", "holdout"))
    with pytest.raises(ReleaseNotFoundError, match="no releases table"):
        next(iter_batches(str(tmp_path), "web_text", "r2", "train"))
    with pytest.raises(ValueError, match="rank=4 world_size=4"):
        next(iter_batches(str(released_lake), "web_text", "r2", "train", rank=4, world_size=4))


def test_a_release_stream_reads_its_place_when_iterated_and_follows_set_epoch(released_lake):
    """What torch_dataset wraps: each (rank, worker) placement, found at iteration time, reads its part."""
    parts = {}
    for rank in range(RANKS):
        for worker in range(WORKERS):
            stream = ReleaseStream(
                str(released_lake),
                "web_text",
                "r2",
                "train",
                lambda r=rank, w=worker: (r, RANKS, w, WORKERS),
                batch_size=64,
            )
            stream.set_epoch(3)
            parts[(rank, worker)] = [
                (d, c)
                for batch in stream
                for d, c in zip(batch.column("doc_id").to_pylist(), batch.column("copy").to_pylist(), strict=True)
            ]
    assert parts == read_all(released_lake, "train", epoch=3)
    whole = ReleaseStream(str(released_lake), "web_text", "r2", "train", columns=["doc_id"])
    assert sum(b.num_rows for b in whole) == sum(len(rows) for rows in parts.values())
