"""The training side for real: torch's DataLoader with two workers under fork, spawn and forkserver, the
default collate, and a mid-epoch resume."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from refinery.loader import iter_batches
from refinery.loader.torch_data import ReleaseDataset

COLUMNS = ["doc_id", "copy", "n_tokens", "text"]


def expected_rows(lake) -> list[tuple[str, int]]:
    return sorted(
        (d, c)
        for batch in iter_batches(str(lake), "web_text", "r2", "train", columns=["doc_id", "copy"])
        for d, c in zip(batch.column("doc_id").to_pylist(), batch.column("copy").to_pylist(), strict=True)
    )


def rows_of(batches) -> list[tuple[str, int]]:
    return [(d, int(c)) for batch in batches for d, c in zip(batch["doc_id"], batch["copy"], strict=True)]


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_two_workers_read_each_row_once_per_epoch(released_lake, start_method):
    dataset = ReleaseDataset(str(released_lake), "web_text", "r2", "train", batch_size=128, columns=COLUMNS)
    loader = DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context=start_method)
    expected = expected_rows(released_lake)  # the parent has used deltalake before the workers start
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        batches = list(loader)
        assert sorted(rows_of(batches)) == expected
        first = batches[0]
        assert isinstance(first["n_tokens"], torch.Tensor) and first["n_tokens"].dtype == torch.int32
        assert isinstance(first["text"], list) and isinstance(first["text"][0], str)
        assert {len(b["doc_id"]) for b in batches[:-2]} == {128}


@pytest.mark.parametrize(("before", "after"), [(2, 0), (2, 4), (0, 2)])
def test_a_resumed_epoch_serves_every_row_once_when_the_worker_count_changes(released_lake, before, after):
    def make(workers):
        dataset = ReleaseDataset(str(released_lake), "web_text", "r2", "train", batch_size=20, columns=COLUMNS)
        dataset.set_epoch(2)
        context = {"multiprocessing_context": "fork"} if workers else {}
        return dataset, DataLoader(dataset, batch_size=None, num_workers=workers, **context)

    dataset, loader = make(before)
    taken, state = [], None
    for step, batch in enumerate(loader):
        taken.extend(rows_of([batch]))
        if step + 1 == 5:
            state = dataset.state_dict(batches=step + 1)  # what a checkpoint saves
            break
    resumed, loader = make(after)
    resumed.load_state_dict(state)
    rest = rows_of(list(loader))
    assert sorted(taken + rest) == expected_rows(released_lake) and len(taken) == 5 * 20
