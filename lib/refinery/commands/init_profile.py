"""What `refinery init --from FILE` learns from a sample of record data, without Spark: each column's profile
(the `ColumnProfile` that `refinery profile` makes of a table, so the same expectations are suggested from it)
and what the column looks like (an identifier, a birth date, a postal code, a sensitive attribute).

Values are read as text and typed here, so a postal code keeps its leading zeros and a column with one odd
value stays text rather than losing it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from refinery.tables import Column
from refinery.transforms.tabular.profile import MAX_ALLOWED_VALUES, ColumnProfile

SAMPLE_ROWS = 5000
MAX_CATEGORIES = 12  # a text column with at most this many values is a categorical feature
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
IDENTIFIER, BIRTH_DATE, POSTAL_CODE, SENSITIVE = "identifier", "birth_date", "postal_code", "sensitive"


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


def profile_table(table: pa.Table) -> tuple[list[ColumnProfile], dict[str, str]]:
    """Each column's profile, and what the columns that look like something look like (IDENTIFIER ...)."""
    profiles, looks = [], {}
    for name in table.column_names:
        present = [str(v).strip() for v in table.column(name).to_pylist() if v is not None and str(v).strip()]
        profiles.append(_profile(name, table.num_rows, present))
        if found := _looks_like(name, profiles[-1].type, present):
            looks[name] = found
    return profiles, looks


def is_numeric(profile: ColumnProfile) -> bool:
    return profile.type in ("int", "bigint", "double") and profile.distinct < profile.rows


def is_categorical(profile: ColumnProfile) -> bool:
    return profile.type in ("string", "boolean") and 0 < profile.distinct <= MAX_CATEGORIES


def bronze_column(profile: ColumnProfile, *, personal: bool) -> Column:
    return Column(profile.name, profile.type, True, personal)


def _profile(name: str, rows: int, present: list[str]) -> ColumnProfile:
    kind = next((t for t, pattern in _TYPES if present and all(pattern.fullmatch(v) for v in present)), "string")
    if kind == "bigint" and any(v.startswith("0") and len(v) > 1 for v in present):
        kind = "string"  # codes with leading zeros
    numbers = [float(v) for v in present] if kind in ("bigint", "double") else []
    if kind == "bigint" and max(abs(n) for n in numbers) < 2**31:
        kind = "int"
    distinct = sorted(set(present))
    if numbers:
        low, high = min(numbers), max(numbers)
    elif kind in ("date", "timestamp") and present:
        low, high = distinct[0], distinct[-1]
    elif kind == "boolean":
        low = high = None
    else:
        lengths = [len(v) for v in present]
        low, high = (float(min(lengths)), float(max(lengths))) if lengths else (None, None)
    values = tuple(distinct) if kind in ("string", "boolean") and len(distinct) <= MAX_ALLOWED_VALUES else ()
    return ColumnProfile(name, kind, rows, rows - len(present), len(distinct), low, high, values)


def _looks_like(name: str, kind: str, present: list[str]) -> str | None:
    if _BIRTH.search(name) and kind == "date":
        return BIRTH_DATE
    if _POSTAL.search(name):
        return POSTAL_CODE
    if _SENSITIVE.search(name):
        return SENSITIVE
    if _NAMES.search(name):
        return IDENTIFIER
    if kind == "string" and present:
        emails = sum(1 for v in present if _EMAIL.fullmatch(v))
        phones = sum(1 for v in present if _PHONE.fullmatch(v) and sum(c.isdigit() for c in v) >= 7)
        if max(emails, phones) >= 0.8 * len(present):
            return IDENTIFIER
    return None
