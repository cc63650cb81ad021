"""Spark-free training readers over a release: Arrow record batches for each rank and data-loader worker.

    from refinery.loader import iter_batches
    for batch in iter_batches("lake", "web_text", "v1", "train", rank=r, world_size=8, epoch=e):
        ...

`refinery.loader.release` reads a release's files (from its Delta log, with `deltalake`) and deals their rows to
the readers; `refinery.loader.stream` reads a split as one resumable stream per rank (elastic: a state saved
under one placement resumes under any other); `refinery.loader.torch_data` is its PyTorch `IterableDataset`
(the `torch` extra); `refinery.loader.tabular` gives a tabular release as numeric matrices. Nothing here imports Spark.
"""

from __future__ import annotations

from refinery.loader.release import (
    DataFile,
    ReleaseFiles,
    ReleaseNotFoundError,
    epoch_order,
    iter_batches,
    iter_file_batches,
    reader_range,
)
from refinery.loader.stream import ReleaseStream, single_reader
from refinery.loader.tabular import MatrixBatch, iter_matrices

__all__ = [
    "DataFile",
    "MatrixBatch",
    "ReleaseFiles",
    "ReleaseNotFoundError",
    "ReleaseStream",
    "epoch_order",
    "iter_batches",
    "iter_file_batches",
    "iter_matrices",
    "reader_range",
    "single_reader",
    "torch_dataset",
]


def torch_dataset(lake: str, pipeline: str, release: str, split: str, **options):
    """A `torch.utils.data.IterableDataset` over a release's split (needs the `torch` extra); see
    `refinery.loader.torch_data.ReleaseDataset`."""
    from refinery.loader.torch_data import ReleaseDataset

    return ReleaseDataset(lake, pipeline, release, split, **options)
