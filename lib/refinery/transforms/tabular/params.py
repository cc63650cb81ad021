"""The tabular pipeline's transform parameters, declared once (as `refinery.transforms.params` does for text):
expectations on record data, and the privacy model of a table (quasi-identifiers, k-anonymity).

No Spark here, so loading (and refusing) a config stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from refinery.errors import ParameterError, require_order, require_range
from refinery.rejects import EXPECT

ExpectationKind = Literal[
    "not_null", "range", "allowed", "regex", "unique", "compare", "row_count", "null_rate", "distinct_count"
]
Severity = Literal["warn", "drop", "fail"]
Comparison = Literal["<", "<=", ">", ">=", "==", "!="]
ROW_KINDS = ("not_null", "range", "allowed", "regex", "unique", "compare")  # judged row by row
AGGREGATE_KINDS = ("row_count", "null_rate", "distinct_count")  # judged on the whole table
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Expectation:
    """One check on record data.

    Row kinds: `not_null` (column), `range` (column within [min, max], either bound optional; for a date
    column [earliest, latest], ISO dates, quoted in YAML), `allowed`
    (column in values), `regex` (the whole value matches pattern, Java syntax), `unique` (no two rows share
    the values of columns; rows with a null key part are not compared), `compare` (column op other, e.g.
    `end_date >= start_date`). A null value passes every row kind but `not_null`.
    Aggregate kinds, bounded by [min, max]: `row_count`, `null_rate` (of column, 0..1), `distinct_count`.
    Severity: `warn` counts the rows (or the measure) and keeps them; `drop` sends a row to rejects with rule
    `expect:<name>`; `fail` stops the stage (exit 1) with the measured value in the ledger. Aggregate kinds
    cannot `drop`: no row is to blame.
    """

    name: str
    kind: ExpectationKind
    column: str | None = None
    columns: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    earliest: str | None = None
    latest: str | None = None
    values: list[str] = field(default_factory=list)
    pattern: str | None = None
    op: Comparison | None = None
    other: str | None = None
    severity: Severity = "drop"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ParameterError("name", f"'{self.name}' must be snake_case")
        needs = {
            "not_null": ("column",),
            "range": ("column",),
            "allowed": ("column", "values"),
            "regex": ("column", "pattern"),
            "unique": ("columns",),
            "compare": ("column", "op", "other"),
            "row_count": (),
            "null_rate": ("column",),
            "distinct_count": ("column",),
        }[self.kind]
        for name in needs:
            if not getattr(self, name):
                raise ParameterError(name, f"expectation '{self.name}' ({self.kind}) needs it")
        dates = {name: getattr(self, name) for name in ("earliest", "latest") if getattr(self, name) is not None}
        for name, bound in dates.items():
            _check_date(name, bound)
        if dates and self.kind != "range":
            raise ParameterError("earliest", f"expectation '{self.name}' ({self.kind}): date bounds are for range")
        if self.kind in ("range", *AGGREGATE_KINDS) and self.min is None and self.max is None and not dates:
            raise ParameterError("min", f"expectation '{self.name}' ({self.kind}) needs min, max or both")
        if self.min is not None and self.max is not None:
            require_order("min", self.min, "max", self.max)
        if self.kind == "null_rate":
            for bound in ("min", "max"):
                if getattr(self, bound) is not None:
                    require_range(bound, getattr(self, bound), 0, 1)
        if self.kind in AGGREGATE_KINDS and self.severity == "drop":
            raise ParameterError("severity", f"expectation '{self.name}' ({self.kind}) can warn or fail, not drop")
        if self.kind == "regex":
            _check_pattern(self.pattern or "")

    @property
    def rule(self) -> str:
        """The rejects rule of a dropped row."""
        return EXPECT.of(self.name)

    @property
    def per_row(self) -> bool:
        return self.kind in ROW_KINDS


def _check_date(name: str, value: str) -> None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ParameterError(name, f"must be a date YYYY-MM-DD, got '{value}'")


def _check_pattern(pattern: str) -> None:
    try:
        re.compile(pattern)  # Python's syntax is close enough to Java's to catch a broken pattern early
    except re.error as exc:
        raise ParameterError("pattern", f"not a regular expression: {exc}") from None


GeneralizationKind = Literal["age_band", "prefix", "bin"]


@dataclass(frozen=True)
class Generalization:
    """A quasi-identifier made coarser from silver on.

    `age_band`: a birth date becomes the band of `width` years holding the age on `as_of` ("30-39"; a fixed
    date, so a rerun gives the same bands); `prefix`: a code (a zip code) keeps its first `width` characters;
    `bin`: a number (an age, an income) becomes the band of `width` holding it ("30-39", "50000-59999").
    The coarser value replaces the column, or with `into` goes to that column and the original is dropped.
    """

    column: str
    kind: GeneralizationKind
    width: int
    as_of: str = "2026-01-01"
    into: str | None = None

    def __post_init__(self) -> None:
        require_range("width", self.width, 1, None)
        _check_date("as_of", self.as_of)

    @property
    def output(self) -> str:
        return self.into or self.column


@dataclass(frozen=True)
class AnonymityParams:
    """k-anonymity over the quasi-identifiers (after generalization) and l-diversity of `sensitive` in each
    class. `policy`: `warn` reports the classes below k; `suppress` sends their rows to rejects
    (rule `k_anonymity`)."""

    quasi_identifiers: list[str] = field(default_factory=list)
    k: int = 5
    l_diversity: int = 2
    sensitive: str | None = None  # usually the label
    policy: Literal["warn", "suppress"] = "warn"

    def __post_init__(self) -> None:
        require_range("k", self.k, 1, None)
        require_range("l_diversity", self.l_diversity, 1, None)
