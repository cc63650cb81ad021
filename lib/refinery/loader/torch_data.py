"""PyTorch side of the loader: a release split as an `IterableDataset` whose items are ready batches.

    from torch.utils.data import DataLoader
    from refinery.loader.torch_data import ReleaseDataset

    dataset = ReleaseDataset("lake", "web_text", "r1", "train", batch_size=512, columns=["doc_id", "text", "n_tokens"])
    loader = DataLoader(dataset, batch_size=None, num_workers=4)   # batch_size=None: items are batches
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for step, batch in enumerate(loader):   # {"doc_id": [...], "text": [...], "n_tokens": tensor([...])}
            ...
            state = dataset.state_dict(batches=step + 1)   # save with the checkpoint
    # after a restart, with any number of workers or ranks: dataset.load_state_dict(state), then iterate

Each item is `to_torch(record_batch)`: numeric and boolean columns as tensors, other columns as lists.
The dataset is picklable and lists its files when built (in the parent), so workers started by fork
(also after the parent used deltalake), spawn or forkserver read Parquet only. Rank and world size come
from `torch.distributed` when it is initialised, the worker from `get_worker_info()`.
"""

from __future__ import annotations

import pyarrow as pa
import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from refinery.loader.stream import ReleaseStream


def distributed_placement() -> tuple[int, int, int, int]:
    """(rank, world_size, worker_id, num_workers) of the calling DataLoader worker (or main process)."""
    worker = get_worker_info()
    distributed = dist.is_available() and dist.is_initialized()
    return (
        dist.get_rank() if distributed else 0,
        dist.get_world_size() if distributed else 1,
        worker.id if worker else 0,
        worker.num_workers if worker else 1,
    )


def to_torch(batch: pa.RecordBatch) -> dict[str, torch.Tensor | list]:
    """A record batch as a dict: numeric and boolean columns (without nulls) as tensors, others
    (strings, maps, lists) as Python lists. It is what the default collate passes through with
    `batch_size=None`."""
    columns: dict[str, torch.Tensor | list] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        kind = column.type
        if (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)) and (
            column.null_count == 0
        ):
            columns[name] = torch.from_numpy(column.to_numpy(zero_copy_only=False).copy())
        else:
            columns[name] = column.to_pylist()
    return columns


class ReleaseDataset(ReleaseStream, IterableDataset):
    """A release split for `torch.utils.data.DataLoader` (see the module docstring)."""

    def __init__(self, lake: str, pipeline: str, release: str, split: str, **options):
        super().__init__(lake, pipeline, release, split, distributed_placement, **options)

    def __iter__(self):
        for batch in super().__iter__():
            yield to_torch(batch)
