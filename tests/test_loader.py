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


def rows_of(batch) -> list[tuple[str, int]]:
    return list(zip(batch.column("doc_id").to_pylist(), batch.column("copy").to_pylist(), strict=True))


def stream(lake, rank, world, worker, workers, **options) -> ReleaseStream:
    return ReleaseStream(str(lake), "web_text", "r2", "train", lambda: (rank, world, worker, workers), **options)


def loaded(lake, world, workers, state=None, steps=None, **options) -> list[list[tuple[str, int]]]:
    """Each rank's batches as a DataLoader takes them (one from each worker in turn), `steps` per rank at most,
    every worker's stream restored from `state` first."""
    taken = []
    for rank in range(world):
        readers = []
        for worker in range(workers):
            reader = stream(lake, rank, world, worker, workers, **options)
            reader.set_epoch(3)
            if state:
                reader.load_state_dict(state)
            readers.append(iter(reader))
        batches = []
        while steps is None or len(batches) < steps:
            batch = next(readers[len(batches) % workers], None)
            if batch is None:
                break
            batches.append(rows_of(batch))
        taken.append(batches)
    return taken


def test_a_release_stream_deals_each_rank_one_part_in_the_order_a_data_loader_takes_it(released_lake):
    """Rank r's stream is reader r of `world` ranks; its workers yield alternate batches of it."""
    for rank, batches in enumerate(loaded(released_lake, RANKS, WORKERS, batch_size=64)):
        whole = iter_batches(str(released_lake), "web_text", "r2", "train", rank, RANKS, batch_size=64, epoch=3)
        assert [row for batch in batches for row in batch] == [row for b in whole for row in rows_of(b)]
    single = ReleaseStream(str(released_lake), "web_text", "r2", "train", columns=["doc_id"])
    assert sum(b.num_rows for b in single) == sum(len(rows) for rows in read_all(released_lake, "train").values())


@pytest.mark.parametrize("shuffle_buffer", [0, 500])
def test_a_resumed_epoch_reads_every_row_once_on_any_placement(released_lake, shuffle_buffer):
    """2 ranks x 2 workers take 3 steps, 3 ranks x 1 worker (another batch size) take 2 more, then 1 rank x 4
    workers reads the rest: every row of the epoch exactly once."""
    options = {"shuffle_buffer": shuffle_buffer}
    everything = [row for rank in loaded(released_lake, 1, 1, batch_size=64, **options) for b in rank for row in b]
    first = loaded(released_lake, 2, 2, steps=3, batch_size=50, **options)
    state = stream(released_lake, 0, 2, 0, 1, batch_size=50, **options)
    state.set_epoch(3)
    saved = state.state_dict(batches=3)
    second = loaded(released_lake, 3, 1, saved, steps=2, batch_size=40, **options)
    middle = stream(released_lake, 0, 3, 0, 1, batch_size=40, **options)
    middle.load_state_dict(saved)
    rest = loaded(released_lake, 1, 4, middle.state_dict(batches=2), batch_size=64, **options)
    rows = [row for part in (first, second, rest) for rank in part for batch in rank for row in batch]
    assert Counter(rows) == Counter(everything) and max(Counter(rows).values()) == 1
    assert sum(len(rank) for rank in first) == 6 and sum(len(rank) for rank in second) == 6


def test_a_state_without_its_placement_or_from_other_options_is_refused(released_lake):
    reader = stream(released_lake, 0, 1, 0, 1, batch_size=64)
    with pytest.raises(ValueError, match="has no world_size, batch_size, segments"):
        reader.load_state_dict({"epoch": 2, "batches": 7})  # what an earlier loader saved
    other = stream(released_lake, 0, 1, 0, 1, batch_size=64, seed=9).state_dict(batches=1)
    with pytest.raises(ValueError, match="was saved reading"):
        reader.load_state_dict(other)
