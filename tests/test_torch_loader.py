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


def test_a_resumed_epoch_continues_at_the_batch_it_stopped(released_lake):
    def make():
        dataset = ReleaseDataset(str(released_lake), "web_text", "r2", "train", batch_size=100, columns=COLUMNS)
        return dataset, DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="fork")

    dataset, loader = make()
    dataset.set_epoch(2)
    whole = [batch["doc_id"] for batch in loader]
    taken = 7  # the training loop's own count of batches it consumed before stopping
    resumed, loader = make()
    resumed.load_state_dict({"epoch": 2, "batches": taken})
    assert [batch["doc_id"] for batch in loader] == whole[taken:]

    def single(**options):
        return ReleaseDataset(
            str(released_lake), "web_text", "r2", "train", batch_size=100, columns=["doc_id"], **options
        )

    reader = single(epoch=2)
    stream = iter(reader)  # in one process the dataset counts what it handed out
    consumed = [next(stream)["doc_id"] for _ in range(5)]
    assert reader.state_dict() == {"epoch": 2, "batches": 5}
    again = single()
    again.load_state_dict(reader.state_dict())
    assert consumed + [b["doc_id"] for b in again] == [b["doc_id"] for b in single(epoch=2)]
