"""What `refinery init --from FILE` learns from a sample of record data: each column's type, emptiness and
distinct values, and what it looks like (an identifier, a birth date, a postal code, a sensitive attribute).

Values are read as text and typed here, so a postal code keeps its leading zeros and a column with one odd
value stays text rather than losing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from refinery.tables import Column

SAMPLE_ROWS = 5000
MAX_CATEGORIES = 12  # a text column with at most this many values is categorical (and its values an expectation)
_TYPES = (  # (type, pattern every value matches), tried in order
    ("boolean", re.compile(r"(?i)true|false")),
    ("bigint", re.compile(r"-?(0|[1-9]\d{0,17})")),
    ("double", re.compile(r"-?\d+\.\d+([eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")),
    ("date", re.compile(r"\d{4}-\d{2}-\d{2}")),
    ("timestamp", re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")),
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().-]{7,20}")
_NAMES = re.compile(r"(?i)(^|_)(full_?name|first_?name|last_?name|surname|name|ssn|national_id|passport|tax_id)$")
_BIRTH = re.compile(r"(?i)(birth|dob)")
_POSTAL = re.compile(r"(?i)^(zip|zip_?code|postcode|postal_?code|plz)$")
_SENSITIVE = re.compile(r"(?i)^(gender|sex|race|ethnicity|religion|nationality|age_band|disability)$")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    rows: int
    nulls: int
    distinct: int
    values: list[str]  # the distinct values of a categorical column, sorted
    minimum: float | None
    looks_like: str | None  # email, phone, name, birth_date, postal_code, sensitive

    @property
    def unique(self) -> bool:
        return self.nulls == 0 and self.distinct == self.rows > 0

    @property
    def numeric(self) -> bool:
        return self.type in ("bigint", "int", "double") and not self.unique

    @property
    def categorical(self) -> bool:
        return self.type in ("string", "boolean") and 0 < self.distinct <= MAX_CATEGORIES and self.looks_like is None

    @property
    def identifier(self) -> bool:
        return self.looks_like in ("email", "phone", "name")

    @property
    def birth_date(self) -> bool:
        return self.looks_like == "birth_date"

    @property
    def postal_code(self) -> bool:
        return self.looks_like == "postal_code"

    @property
    def sensitive_attribute(self) -> bool:
        return self.looks_like == "sensitive"

    def column(self, *, personal: bool) -> Column:
        return Column(self.name, self.type, True, personal)


def read_sample(path: Path) -> pa.Table:
    """Up to SAMPLE_ROWS rows of a CSV (every value as text), JSONL or Parquet file."""
    lower = path.name.lower()
    if ".parquet" in lower:
        import pyarrow.parquet as pq

        return pa.Table.from_batches([next(pq.ParquetFile(path).iter_batches(batch_size=SAMPLE_ROWS))])
    if ".csv" in lower:
        import pyarrow.csv as pcsv

        names = pcsv.read_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16)).column_names
        text = pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True)
        return pcsv.read_csv(path, convert_options=text).slice(0, SAMPLE_ROWS)
    import pyarrow.json as pjson

    return pjson.read_json(path).slice(0, SAMPLE_ROWS)


def profile_table(table: pa.Table) -> list[ColumnProfile]:
    return [_profile(name, table.column(name).to_pylist()) for name in table.column_names]


def _profile(name: str, values: list) -> ColumnProfile:
    present = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
    kind = next((t for t, pattern in _TYPES if present and all(pattern.fullmatch(v) for v in present)), "string")
    if kind == "bigint" and any(v.startswith("0") and len(v) > 1 for v in present):
        kind = "string"  # codes with leading zeros
    distinct = sorted(set(present))
    numbers = [float(v) for v in present] if kind in ("bigint", "double") else []
    if kind == "bigint" and max(abs(n) for n in numbers) < 2**31:
        kind = "int"
    return ColumnProfile(
        name=name,
        type=kind,
        rows=len(values),
        nulls=len(values) - len(present),
        distinct=len(distinct),
        values=distinct if len(distinct) <= MAX_CATEGORIES else [],
        minimum=min(numbers) if numbers else None,
        looks_like=_looks_like(name, kind, present),
    )


def _looks_like(name: str, kind: str, present: list[str]) -> str | None:
    if _BIRTH.search(name) and kind == "date":
        return "birth_date"
    if _POSTAL.search(name):
        return "postal_code"
    if _SENSITIVE.search(name):
        return "sensitive"
    if _NAMES.search(name):
        return "name"
    if kind == "string" and present:
        share = sum(1 for v in present if _EMAIL.fullmatch(v)) / len(present)
        if share >= 0.8:
            return "email"
        if sum(1 for v in present if _PHONE.fullmatch(v) and sum(c.isdigit() for c in v) >= 7) / len(present) >= 0.8:
            return "phone"
    return None
