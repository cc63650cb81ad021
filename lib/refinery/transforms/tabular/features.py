"""Model features from a fit made on the train split only: numeric columns standardized, categorical columns
indexed by a vocabulary, so no validation or test value leaks into what the model sees.

`FeatureFit` is the fitted state (JSON, stored with the release so a training loop and a serving path use the
same numbers); `refinery.stages.tabular.feature_fit.fit_features` makes it; `encode_features` applies it to any split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

UNKNOWN = "<unk>"  # index 0 of every vocabulary: a category the train split never had, or a null


@dataclass(frozen=True)
class FeatureFit:
    """Per numeric column (mean, standard deviation) and per categorical column its vocabulary (index i + 1;
    0 is `<unk>`), fitted on `rows` rows of split `fitted_on`."""

    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    fitted_on: str = "train"
    rows: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "fitted_on": self.fitted_on,
                "rows": self.rows,
                "numeric": {c: {"mean": m, "std": s} for c, (m, s) in self.numeric.items()},
                "categorical": {c: [UNKNOWN, *v] for c, v in self.categorical.items()},
            },
            indent=2,
        )  # in declared order: a matrix's columns follow it

    @classmethod
    def from_json(cls, text: str) -> FeatureFit:
        data = json.loads(text)
        return cls(
            numeric={c: (v["mean"], v["std"]) for c, v in data["numeric"].items()},
            categorical={c: v[1:] for c, v in data["categorical"].items()},
            fitted_on=data["fitted_on"],
            rows=data["rows"],
        )


def encode_features(df: DataFrame, *, fit: FeatureFit) -> DataFrame:
    """Standardize and index with a fit.

    Requires: the fit's columns. Adds: `<column>_z` (double: (x - mean) / std, 0 for a null or when the
    train split had one value only) per numeric column and `<column>_idx` (int: vocabulary index, 0 for
    `<unk>`) per categorical column.
    """
    added = {}
    for column, (mean, std) in fit.numeric.items():
        centred = F.col(column).cast("double") - F.lit(mean)
        added[f"{column}_z"] = F.coalesce(centred / F.lit(std) if std > 0 else centred * 0.0, F.lit(0.0))
    for column, vocabulary in fit.categorical.items():
        index = F.create_map(*[x for i, value in enumerate(vocabulary, 1) for x in (F.lit(value), F.lit(i))])
        looked_up = index[F.col(column).cast("string")] if vocabulary else F.lit(None)
        added[f"{column}_idx"] = F.coalesce(looked_up, F.lit(0)).cast("int")
    return df.withColumns(added) if added else df
