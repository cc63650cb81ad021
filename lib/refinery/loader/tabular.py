"""Spark-free numeric batches of a tabular release, for a training loop:

    from refinery.loader.tabular import iter_matrices
    for batch in iter_matrices("lake", "tabular", "v1", "train", batch_size=256, epoch=e):
        model.partial_fit(batch.features, batch.label, sample_weight=batch.sample_weight)

The model's columns are those the release's feature fit made (`<column>_z` for numeric, `<column>_idx` for
categorical, in the fit's order), read from the release's record; rows come from `refinery.loader`, so ranks
and workers read disjoint parts exactly as for text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from refinery import paths, tables
from refinery.loader.release import ReleaseNotFoundError, iter_batches


@dataclass(frozen=True)
class MatrixBatch:
    """One batch as arrays: `features` (rows x columns, float32), `label`, and `sample_weight` (None when the
    release has no weights for this split)."""

    features: np.ndarray
    label: np.ndarray
    sample_weight: np.ndarray | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseFeatures:
    """The model columns of a release and its label, from its feature fit."""

    columns: tuple[str, ...]
    label: str
    fit: dict

    @classmethod
    def open(cls, lake: str, pipeline: str, release: str) -> ReleaseFeatures:
        from deltalake import DeltaTable

        uri = paths.join(paths.normalize(lake), tables.table("releases").key())
        records = pa.table(DeltaTable(uri).to_pyarrow_table(columns=["pipeline", "name", "settings"]))
        mine = records.filter(pc.and_(pc.equal(records["pipeline"], pipeline), pc.equal(records["name"], release)))
        if mine.num_rows == 0:
            raise ReleaseNotFoundError(f"no release '{release}' for pipeline {pipeline} in {lake}")
        settings = dict(mine["settings"][0].as_py())
        if tables.FEATURE_FIT not in settings:
            raise ValueError(f"release '{release}' of {pipeline} has no feature fit: is it a tabular release?")
        fit = json.loads(settings[tables.FEATURE_FIT])
        columns = (*(f"{c}_z" for c in fit["numeric"]), *(f"{c}_idx" for c in fit["categorical"]))
        return cls(columns=columns, label=settings["label"], fit=fit)


def iter_matrices(
    lake: str, pipeline: str, release: str, split: str, *, batch_size: int = 1024, **options
) -> Iterator[MatrixBatch]:
    """This reader's batches of a release's split as arrays; `options` are `refinery.loader.iter_batches`'s
    (rank, world_size, worker_id, num_workers, epoch, seed, shuffle ...)."""
    features = ReleaseFeatures.open(lake, pipeline, release)
    wanted = [*features.columns, features.label, "sample_weight"]
    for batch in iter_batches(lake, pipeline, release, split, batch_size=batch_size, columns=wanted, **options):
        weights = batch.column("sample_weight")
        yield MatrixBatch(
            features=np.column_stack(
                [_floats(batch.column(c)) for c in features.columns] or [np.empty((batch.num_rows, 0))]
            ).astype(np.float32),
            label=_floats(batch.column(features.label)),
            sample_weight=None if weights.null_count == batch.num_rows else _floats(weights),
            columns=features.columns,
        )


def _floats(values: pa.Array) -> np.ndarray:
    return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
