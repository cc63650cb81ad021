"""A release split as one stream of batches per rank, which a training job can stop and resume on any placement.

The epoch's rows have positions: the split's files in a per-(seed, epoch) order, rotated by a per-epoch offset,
and with `shuffle_buffer` > 1 permuted inside consecutive windows of that many positions. Rank r of `world_size`
reads part r of the positions still to read (`segments`, at first the whole epoch) as one stream, cut into
`batch_size` batches; DataLoader worker w of W yields that stream's batches w, w + W, ... which is the order a
DataLoader takes them in. So after n steps each rank has consumed the first n batches of its stream, whatever
its worker count, and `state_dict(batches=n)` records that with the placement it happened under (world size,
batch size, segments). `load_state_dict` removes exactly those positions, and the rest is dealt anew over the
resuming job's ranks and workers: every row of the epoch once, across any change of workers, ranks or batch
size. A state without its placement (from before) is refused with one line instead of being guessed at.
All ranks must have taken the same number of batches (as data-parallel training steps them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from refinery.loader.release import ReleaseFiles, epoch_offset, epoch_order, read_range, rebatched, unrotated

Segments = list[tuple[int, int]]
_STATE_KEYS = ("epoch", "batches", "world_size", "batch_size", "segments", "rows", "seed", "shuffle", "shuffle_buffer")


def single_reader() -> tuple[int, int, int, int]:
    """Placement of a stream read by one process: rank 0 of 1, worker 0 of 1."""
    return 0, 1, 0, 1


class ReleaseStream:
    """An iterable over a release's split that finds its place among the readers each time it is iterated.

    The split's files are listed once, here (picklable: DataLoader workers, forked or spawned, never read the
    Delta log). `placement()` gives (rank, world_size, worker_id, num_workers) at iteration time; call
    `set_epoch(e)` before each epoch, as with DistributedSampler. Iterated in one process the stream counts the
    batches it handed out; behind a DataLoader with workers pass the training loop's own count:
    `state_dict(batches=steps_taken_this_epoch)`.
    """

    def __init__(
        self,
        lake: str,
        pipeline: str,
        release: str,
        split: str,
        placement: Callable[[], tuple[int, int, int, int]] | None = None,
        *,
        epoch: int = 0,
        batch_size: int = 1024,
        columns: list[str] | None = None,
        seed: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 0,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.files = ReleaseFiles.open(lake, pipeline, release).split_files(split)
        self.rows = sum(f.rows for f in self.files)
        self.placement = placement or single_reader
        self.batch_size, self.columns = batch_size, columns
        self.seed, self.shuffle, self.shuffle_buffer = seed, shuffle, shuffle_buffer if shuffle else 0
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.segments: Segments = [(0, self.rows)] if self.rows else []
        self.batches = 0  # batches of this rank's stream handed out (by this process)

    def state_dict(self, batches: int | None = None) -> dict:
        """Where this epoch stands: `batches` taken by each rank (default: those this process handed out) and
        the placement they were taken under."""
        _, world_size, _, _ = self.placement()
        return {
            "epoch": self.epoch,
            "batches": self.batches if batches is None else int(batches),
            "world_size": world_size,
            "batch_size": self.batch_size,
            "segments": [list(segment) for segment in self.segments],
            **self._reading(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume the epoch `state` describes: its taken rows are left out, the rest dealt over this placement."""
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ValueError(
                f"the loader state has no {', '.join(missing)}: it cannot say which rows were taken; save states "
                "with dataset.state_dict(batches=n) (n: batches each rank took this epoch)"
            )
        saved = {key: state[key] for key in self._reading()}
        if saved != self._reading():
            raise ValueError(f"the loader state was saved reading {saved}; this dataset reads {self._reading()}")
        segments = [(int(lo), int(hi)) for lo, hi in state["segments"]]
        taken = [
            _rank_part(segments, rank, int(state["world_size"]))[: int(state["batches"]) * int(state["batch_size"])]
            for rank in range(int(state["world_size"]))
        ]
        self.epoch = int(state["epoch"])
        self.segments = _without(segments, [position for part in taken for position in part])
        self.batches = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        rank, world_size, worker_id, num_workers = self.placement()
        part = _rank_part(self.segments, rank, world_size)
        for index, batch in enumerate(rebatched(self._read(part), self.batch_size)):
            if index % num_workers == worker_id:
                self.batches += 1
                yield batch

    def _reading(self) -> dict:
        """The options that fix the epoch's positions: a state is only valid under the same ones."""
        return {"rows": self.rows, "seed": self.seed, "shuffle": self.shuffle, "shuffle_buffer": self.shuffle_buffer}

    def _read(self, part: _Positions) -> Iterator[pa.RecordBatch]:
        """The rows at the given positions of the epoch, in order."""
        files = epoch_order(self.files, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle)
        offset = epoch_offset(self.seed, self.epoch, self.rows, self.shuffle)

        def rows(lo: int, hi: int) -> Iterator[pa.RecordBatch]:
            for start, stop in unrotated(lo, hi, offset, self.rows):
                yield from read_range(files, start, stop, self.columns, self.batch_size)

        window = self.shuffle_buffer
        for lo, hi in part.ranges:
            if window <= 1:
                yield from rows(lo, hi)
                continue
            for first in range(lo - lo % window, hi, window):  # each window read whole, permuted, then cut
                last = min(first + window, self.rows)
                table = pa.Table.from_batches(list(rows(first, last)))
                order = np.random.default_rng([self.seed, self.epoch, first // window]).permutation(table.num_rows)
                cut = order[max(lo, first) - first : min(hi, last) - first]
                yield from table.take(cut).combine_chunks().to_batches()


class _Positions:
    """Positions of the epoch as sorted disjoint ranges, sliced by index as if they were one list."""

    def __init__(self, ranges: Segments):
        self.ranges = [(lo, hi) for lo, hi in ranges if hi > lo]

    def __len__(self) -> int:
        return sum(hi - lo for lo, hi in self.ranges)

    def __getitem__(self, cut: slice) -> _Positions:
        start, stop, _ = cut.indices(len(self))
        out, seen = [], 0
        for lo, hi in self.ranges:
            a, b = max(lo, lo + start - seen), min(hi, lo + stop - seen)
            if b > a:
                out.append((a, b))
            seen += hi - lo
        return _Positions(out)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.ranges)


def _rank_part(segments: Segments, rank: int, world_size: int) -> _Positions:
    """Part `rank` of `world_size` equal parts (sizes differing by at most one) of the positions left."""
    if not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank} world_size={world_size}")
    positions = _Positions(segments)
    total = len(positions)
    return positions[total * rank // world_size : total * (rank + 1) // world_size]


def _without(segments: Segments, taken: list[tuple[int, int]]) -> Segments:
    """The positions of `segments` outside the `taken` ranges."""
    left = []
    for lo, hi in segments:
        cursor = lo
        for a, b in sorted(taken):
            if b <= cursor or a >= hi:
                continue
            if a > cursor:
                left.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < hi:
            left.append((cursor, hi))
    return left
