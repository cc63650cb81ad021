"""The release reader: Arrow record batches of a release's split for each rank and data-loader worker.

The release's files (from its Delta log, read with `deltalake`) are put in an order that depends only
on (seed, epoch); the rows of the split, in that order, are cut into `world_size x num_workers` equal
ranges, and each reader reads only the row groups of its range with pyarrow. So the readers of one
epoch get disjoint parts that cover the split exactly once, sizes differing by at most one row, and
rows inside each file are already in gold's shuffle-key order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from refinery import paths, tables

PARTITION_COLUMNS = ("split", "lang")


class ReleaseNotFoundError(LookupError):
    """The lake has no such release (or no releases table)."""


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a release: where it is, its rows, and its partition values."""

    path: str
    rows: int
    partition: dict[str, str]


@dataclass(frozen=True)
class ReleaseFiles:
    """The files of one release, as its Delta log lists them at the release's pinned version."""

    table: str
    version: int
    files: tuple[DataFile, ...]

    @classmethod
    def open(cls, lake: str, pipeline: str, release: str) -> ReleaseFiles:
        """The release's files, from the table and version its record pins (the file list is read once per
        process and table: a release never changes once created, and a table made anew has a new id)."""
        return _open_release(paths.normalize(lake), pipeline, release)

    def split_files(self, split: str) -> list[DataFile]:
        chosen = sorted((f for f in self.files if f.partition.get("split") == split), key=lambda f: f.path)
        if not chosen:
            known = sorted({f.partition.get("split") for f in self.files})
            raise ReleaseNotFoundError(f"split '{split}' is not in {self.table} (splits: {', '.join(known)})")
        return chosen


def _open_release(lake: str, pipeline: str, release: str) -> ReleaseFiles:
    table, version = _pinned_table(lake, pipeline, release)
    from deltalake import DeltaTable

    delta = DeltaTable(table, version=version)
    key = (table, version, delta.metadata().id)
    if key not in _FILES:
        _FILES[key] = _data_files(table, delta, release)
    return ReleaseFiles(table=table, version=version, files=_FILES[key])


def _pinned_table(lake: str, pipeline: str, release: str) -> tuple[str, int]:
    """The location and version of the release's table: from the lake's releases table, or, for a lake
    whose tables live in a catalog, from the pointer `release create` left under the lake root."""
    from deltalake import DeltaTable

    releases_uri = paths.join(lake, tables.table("releases").key())
    try:
        releases = pa.table(
            DeltaTable(releases_uri).to_pyarrow_table(columns=["pipeline", "name", "table", "table_version"])
        )
    except Exception as exc:  # deltalake raises TableNotFoundError and friends
        manifest = _read_manifest(paths.join(lake, tables.release_manifest_key(pipeline, release)))
        if manifest is None:
            raise ReleaseNotFoundError(
                f"no releases table at {releases_uri} ({type(exc).__name__}) and no catalog release pointer"
            ) from None
        return manifest["location"], int(manifest["table_version"])
    mine = releases.filter(pc.and_(pc.equal(releases["pipeline"], pipeline), pc.equal(releases["name"], release)))
    if mine.num_rows == 0:
        raise ReleaseNotFoundError(f"no release '{release}' for pipeline {pipeline} in {lake}")
    recorded = mine["table"][0].as_py()  # a lake-relative key; records made before keys hold the full path
    table = recorded if paths.is_absolute(recorded) else paths.join(lake, recorded)
    return table, int(mine["table_version"][0].as_py())


def _read_manifest(location: str) -> dict | None:
    """A catalog release's pointer (see refinery.tables.release_manifest_key), or None when there is none."""
    filesystem, path = pafs.FileSystem.from_uri(paths.as_uri(location))
    try:
        with filesystem.open_input_stream(path) as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        return None


_FILES: dict[tuple[str, int, str], tuple[DataFile, ...]] = {}  # (table, version, Delta table id) -> its files


def _data_files(table: str, delta, release: str) -> tuple[DataFile, ...]:
    actions = pa.table(delta.get_add_actions(flatten=True)).to_pylist()
    if any(action.get("deletionVector.storageType") for action in actions):
        raise NotImplementedError(f"release {release} has deletion vectors; rewrite it (OPTIMIZE) before loading")
    return tuple(
        DataFile(
            path=action["path"] if paths.scheme(action["path"]) else paths.join(table, action["path"]),
            rows=int(action["num_records"]),
            partition={c: action[f"partition.{c}"] for c in PARTITION_COLUMNS if f"partition.{c}" in action},
        )
        for action in actions
    )


def reader_range(total_rows: int, reader: int, readers: int) -> tuple[int, int]:
    """Rows [start, stop) of reader `reader` out of `readers`: equal parts, sizes differing by at most one."""
    return total_rows * reader // readers, total_rows * (reader + 1) // readers


def epoch_order(files: Sequence[DataFile], *, seed: int, epoch: int, shuffle: bool) -> list[DataFile]:
    """The files in the order an epoch reads them: a permutation fixed by (seed, epoch), or path order."""
    if not shuffle:
        return list(files)
    order = np.random.default_rng([seed, epoch]).permutation(len(files))
    return [files[i] for i in order]


def iter_batches(
    lake: str,
    pipeline: str,
    release: str,
    split: str,
    rank: int = 0,
    world_size: int = 1,
    worker_id: int = 0,
    num_workers: int = 1,
    batch_size: int = 1024,
    **options,
) -> Iterator[pa.RecordBatch]:
    """Yield this reader's record batches of a release's split; `options` and the rules are those of
    `iter_file_batches` (columns, epoch, seed, shuffle, shuffle_buffer)."""
    files = ReleaseFiles.open(lake, pipeline, release).split_files(split)
    reader = {"rank": rank, "world_size": world_size, "worker_id": worker_id, "num_workers": num_workers}
    yield from iter_file_batches(files, **reader, batch_size=batch_size, **options)


def iter_file_batches(
    files: Sequence[DataFile],
    *,
    rank: int = 0,
    world_size: int = 1,
    worker_id: int = 0,
    num_workers: int = 1,
    batch_size: int = 1024,
    columns: Sequence[str] | None = None,
    epoch: int = 0,
    seed: int = 0,
    shuffle: bool = True,
    shuffle_buffer: int = 0,
    skip_batches: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Yield this reader's record batches (`batch_size` rows, the last one shorter) of a split's `files`
    (listed once by `ReleaseFiles`; no Delta log is read here, so this is safe in forked workers).

    Reader number `rank * num_workers + worker_id` of `world_size * num_workers` reads one contiguous
    range of the epoch's row order; every reader must pass the same `seed` and `epoch`. With `shuffle`,
    the order is the files in a per-epoch order, rotated by a per-epoch offset: rows inside each file
    are already in gold's shuffle-key order. `shuffle_buffer` > 1 also permutes rows inside windows of
    that many rows (a copy of every row: slower). `columns` picks columns (default: all, with `split`
    and `lang`). `skip_batches` starts after that many of this reader's batches (a resumed epoch).
    """
    if not (0 <= rank < world_size and 0 <= worker_id < num_workers and batch_size > 0 and skip_batches >= 0):
        raise ValueError(
            f"need 0 <= rank < world_size, 0 <= worker_id < num_workers, batch_size > 0, skip_batches >= 0; "
            f"got rank={rank} world_size={world_size} worker_id={worker_id} num_workers={num_workers} "
            f"batch_size={batch_size} skip_batches={skip_batches}"
        )
    files = epoch_order(files, seed=seed, epoch=epoch, shuffle=shuffle)
    reader = rank * num_workers + worker_id
    total = sum(f.rows for f in files)
    start, stop = reader_range(total, reader, world_size * num_workers)
    buffered = shuffle and shuffle_buffer > 1
    if not buffered:  # batches are consecutive rows of the range: start after the skipped ones
        start = min(stop, start + skip_batches * batch_size)
    # The epoch's row sequence: its file order, rotated by an epoch offset (so epochs cut the readers'
    # ranges at different rows), read as at most two unrotated segments.
    offset = epoch_offset(seed, epoch, total, shuffle)
    batches = (
        batch
        for lo, hi in unrotated(start, stop, offset, total)
        for batch in read_range(files, lo, hi, columns, batch_size)
    )
    if buffered:
        batches = _shuffled(batches, shuffle_buffer, batch_size, np.random.default_rng([seed, epoch, reader]))
    batches = rebatched(batches, batch_size)
    yield from itertools.islice(batches, skip_batches, None) if buffered else batches


def epoch_offset(seed: int, epoch: int, total: int, shuffle: bool) -> int:
    """How far an epoch's row sequence is rotated (so epochs cut the readers' ranges at different rows)."""
    return int(np.random.default_rng([seed, epoch]).integers(total)) if shuffle and total else 0


def unrotated(start: int, stop: int, offset: int, total: int) -> list[tuple[int, int]]:
    """Positions [start, stop) of a sequence of `total` rows rotated left by `offset`, as unrotated ranges."""
    if stop <= start:
        return []
    lo, hi = start + offset, stop + offset
    if hi <= total:
        return [(lo, hi)]
    if lo >= total:
        return [(lo - total, hi - total)]
    return [(lo, total), (0, hi - total)]


def _shuffled(
    batches: Iterator[pa.RecordBatch], window: int, batch_size: int, rng: np.random.Generator
) -> Iterator[pa.RecordBatch]:
    """The same rows, permuted inside consecutive windows of `window` rows (a shuffle buffer), taken out
    `batch_size` rows at a time (one copy per row)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= window:
            yield from _permuted(pa.Table.from_batches(pending), batch_size, rng)
            pending, pending_rows = [], 0
    if pending_rows:
        yield from _permuted(pa.Table.from_batches(pending), batch_size, rng)


def _permuted(table: pa.Table, batch_size: int, rng: np.random.Generator) -> Iterator[pa.RecordBatch]:
    order = rng.permutation(table.num_rows)
    for start in range(0, table.num_rows, batch_size):
        yield from table.take(order[start : start + batch_size]).combine_chunks().to_batches()


def rebatched(batches: Iterator[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of exactly `batch_size` rows (the last one shorter).

    Batches are cut with zero-copy slices; only the rows straddling two input batches are copied.
    """
    carry: pa.RecordBatch | None = None
    for batch in batches:
        at = 0
        if carry is not None:
            need = batch_size - carry.num_rows
            head = batch.slice(0, need)
            carry = pa.Table.from_batches([carry, head]).combine_chunks().to_batches()[0]
            at = head.num_rows
            if carry.num_rows < batch_size:
                continue
            yield carry
            carry = None
        while batch.num_rows - at >= batch_size:
            yield batch.slice(at, batch_size)
            at += batch_size
        if at < batch.num_rows:
            carry = batch.slice(at)
    if carry is not None and carry.num_rows:
        yield carry


def read_range(
    files: Sequence[DataFile], start: int, stop: int, columns: Sequence[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """Rows [start, stop) of `files` taken in order, reading only the row groups that hold them."""
    file_start = 0
    for data_file in files:
        file_stop = file_start + data_file.rows
        if file_stop > start and file_start < stop:
            lo, hi = max(start, file_start) - file_start, min(stop, file_stop) - file_start
            yield from _read_file_rows(data_file, lo, hi, columns, batch_size)
        file_start = file_stop
        if file_start >= stop:
            return


def _read_file_rows(
    data_file: DataFile, lo: int, hi: int, columns: Sequence[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    if paths.is_local(data_file.path):
        filesystem, path = None, paths.local_path(data_file.path)
    else:
        filesystem, path = pafs.FileSystem.from_uri(data_file.path)
    parquet = pq.ParquetFile(path, filesystem=filesystem, pre_buffer=True)
    wanted = [c for c in columns if c not in PARTITION_COLUMNS] if columns is not None else None
    groups, first_row, row = [], None, 0
    for i in range(parquet.metadata.num_row_groups):
        n = parquet.metadata.row_group(i).num_rows
        if row + n > lo and row < hi:
            groups.append(i)
            first_row = row if first_row is None else first_row
        row += n
    skip, remaining = lo - (first_row or 0), hi - lo
    for batch in parquet.iter_batches(row_groups=groups, columns=wanted, batch_size=max(batch_size, 65_536)):
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        batch = batch.slice(skip, min(remaining, batch.num_rows - skip))
        skip, remaining = 0, remaining - batch.num_rows
        yield _with_partition_columns(batch, data_file.partition, columns)
        if remaining == 0:
            return


def _with_partition_columns(
    batch: pa.RecordBatch, partition: dict[str, str], columns: Sequence[str] | None
) -> pa.RecordBatch:
    present = batch.schema.names
    names = list(columns) if columns is not None else [*present, *(c for c in partition if c not in present)]
    arrays = [
        batch.column(name) if name in batch.schema.names else pa.array([partition[name]] * batch.num_rows, pa.string())
        for name in names
    ]
    return pa.RecordBatch.from_arrays(arrays, names=names)
