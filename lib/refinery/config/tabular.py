"""The `tabular` section of a pipeline's config: how record data (customers, accounts) becomes a training table.

Read by the tabular stages (`refinery.stages.tabular.curate`, `refinery.stages.tabular.publish`); a `text`
pipeline ignores it. The columns it names are checked against the pipeline kind's schemas when the config
loads (`check_tabular_columns`), so a typo is one line and exit 2, not a failure inside Spark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from refinery.errors import ConfigError, ParameterError, require_range
from refinery.transforms.tabular.params import AnonymityParams, Expectation, Generalization


@dataclass(frozen=True)
class ChangeColumns:
    """Which raw fields say what a change record does: its operation (insert | update | delete) and its
    sequence number (the highest per key wins). Bronze stores them as `_op` and `_seq`."""

    operation: str = "op"
    sequence: str = "seq"


@dataclass(frozen=True)
class FeatureConfig:
    """Model features fitted on the train split only and stored with gold and each release."""

    numeric: list[str] = field(default_factory=list)  # standardized into <column>_z
    categorical: list[str] = field(default_factory=list)  # indexed into <column>_idx (0: <unk>)
    max_categories: int = 1000
    min_count: int = 1  # a category seen fewer times in train maps to <unk>

    def __post_init__(self) -> None:
        require_range("max_categories", self.max_categories, 1, 1_000_000)
        require_range("min_count", self.min_count, 1, None)


@dataclass(frozen=True)
class FairnessConfig:
    """What the card reports per sensitive attribute and split, and the optional balancing weight."""

    attributes: list[str] = field(default_factory=list)
    min_group_rows: int = 30  # groups smaller than this are flagged in the card
    sample_weight_by: str | None = None  # an attribute: gold gets sample_weight balancing it x label (train)

    def __post_init__(self) -> None:
        require_range("min_group_rows", self.min_group_rows, 1, None)


@dataclass(frozen=True)
class TabularConfig:
    """Record data -> a current-state silver (MERGE of changes), then a k-anonymous, split, encoded gold."""

    key: str = "id"  # the entity a change applies to (one current row per key)
    label: str = "label"  # the training target (binary or categorical)
    changes: ChangeColumns = field(default_factory=ChangeColumns)
    identifiers: list[str] = field(default_factory=list)  # direct identifiers: keyed tokens from silver on
    generalize: list[Generalization] = field(default_factory=list)  # quasi-identifiers made coarser
    expectations: list[Expectation] = field(default_factory=list)  # judged on bronze rows before silver
    anonymity: AnonymityParams = field(default_factory=AnonymityParams)
    split_group: str | None = None  # an entity column: its rows never straddle splits (default: the key)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)

    def __post_init__(self) -> None:
        names = [e.name for e in self.expectations]
        if len(set(names)) != len(names):
            raise ParameterError("expectations", f"names must be unique, got {names}")
        for name in (self.key, self.label, *self.identifiers):
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ParameterError("key", f"'{name}' is not a column name")

    @property
    def group(self) -> str:
        return self.split_group or self.key


def check_tabular_columns(cfg: TabularConfig, bronze: list[str], silver: list[str], gold: list[str]) -> None:
    """Every column the section names exists where it is used (bronze before curation, silver, gold)."""
    uses = [
        ("key", [cfg.key], bronze),
        ("label", [cfg.label], silver),
        ("identifiers", cfg.identifiers, bronze),
        ("generalize", [g.column for g in cfg.generalize], bronze),
        ("generalize.into", [g.output for g in cfg.generalize], silver),
        ("anonymity.quasi_identifiers", cfg.anonymity.quasi_identifiers, silver),
        ("split_group", [cfg.group], gold),
        ("features", [*cfg.features.numeric, *cfg.features.categorical], silver),
        ("fairness.attributes", cfg.fairness.attributes, silver),
        ("features (encoded)", [f"{c}_z" for c in cfg.features.numeric], gold),
        ("features (encoded)", [f"{c}_idx" for c in cfg.features.categorical], gold),
        ("label (in gold)", [cfg.label], gold),
    ]
    for e in cfg.expectations:
        uses.append((f"expectations.{e.name}", [c for c in (e.column, e.other, *e.columns) if c], bronze))
    for key, columns, declared in uses:
        unknown = [c for c in columns if c not in declared]
        if unknown:
            raise ConfigError(
                f"config key 'tabular.{key}': column '{unknown[0]}' is not in the table it applies to "
                f"(columns: {', '.join(c for c in declared if not c.startswith('_'))})"
            )
    weight = cfg.fairness.sample_weight_by
    if weight and weight not in cfg.fairness.attributes:
        raise ConfigError("config key 'tabular.fairness.sample_weight_by': name one of fairness.attributes")
