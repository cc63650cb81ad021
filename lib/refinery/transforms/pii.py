"""PII detection and redaction: e-mails, phones, IPs, cards (Luhn), IBANs (mod 97), US SSNs, secrets.

Each kind is a regular expression for candidates plus, where the format has one, a validator
(Luhn for cards, ISO 13616 mod-97 for IBANs, `ipaddress` for IPv6, digit counts and date/ISBN
shapes for phones), so order numbers, dates, versions, ISBNs and Luhn-invalid numbers are left alone.
Kinds are scanned in a fixed order and each match is masked before the next kind looks, so a later
kind never re-reads an earlier one's digits; redaction puts a typed placeholder (`<EMAIL>` ...) there.

`find_pii` and `scan` are plain Python; `redact_pii` runs it over a DataFrame in an Arrow-batched pandas UDF,
`redact_text` / `redact_column` redact everything for logs, errors and quarantined raw records, and
`lineage_safe` turns the PII in ids and file names into unkeyed tokens (they must stay unique).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import IntegerType, MapType, StringType, StructField, StructType

from refinery.rejects import PII
from refinery.transforms.params import PiiActions
from refinery.transforms.pseudonyms import Pseudonymizer
from refinery.transforms.rules import flag_computed


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Issuer prefixes: Visa, Mastercard, Amex, Diners, Discover, JCB (incl. 2131/1800), Maestro, UnionPay.
_CARD_PREFIX = re.compile(
    r"^(?:4|5[0-8]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9]|304|39|7|2)|35|2131|1800|0604)"
)


def _card_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 12 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and _luhn_ok(digits)


def _iban_ok(match: str) -> bool:
    compact = match.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ipv6_ok(match: str) -> bool:
    try:
        ipaddress.IPv6Address(match)
    except ValueError:
        return False
    return match.count(":") >= 2


_DATE_LIKE = re.compile(r"^\(?\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}\)?$|^\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}$")


_ISBN10 = re.compile(r"^\d{1,5}(?:-+\d{1,7}){1,2}-+[\dX]$")
_EXTENSION = re.compile(r"\s?(?:x|ext\.?)\s?\d{1,5}$", re.I)


def _phone_ok(match: str) -> bool:
    number = _EXTENSION.sub("", match)
    digits = re.sub(r"\D", "", number)
    international = number.startswith(("+", "00"))
    if not 9 <= len(digits) <= 15 or number.count("(") != number.count(")"):
        return False
    if _DATE_LIKE.match(number.strip()) or (not international and len(digits) == 10 and _ISBN10.match(number)):
        return False
    groups = re.findall(r"\d+", number)
    if not international and len(groups) == 1 and not (digits.startswith("0") and len(digits) <= 11):
        return False  # a bare run of digits is an order or account number unless it has a national trunk 0
    is_isbn = not international and len(digits) == 13 and digits.startswith(("978", "979"))
    return not is_isbn


@dataclass(frozen=True)
class PiiKind:
    name: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None
    group: int = 0  # the part of the match that is replaced (a secret's value, not its key)
    # A cheap test that every text the pattern can match in passes (a literal or a digit any match holds):
    # most texts fail it, and the pattern is not run over them.
    may_match: Callable[[str], object] = lambda _text: True


def _holds_any(*literals: str) -> Callable[[str], bool]:
    return lambda text: any(literal in text for literal in literals)


_HOLDS_DIGIT = re.compile(r"\d").search
# The literal every match of the first secret pattern holds (one per alternative).
_SECRET_PREFIXES = ("-----BEGIN", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox")
_SECRET_PREFIXES += ("AIza", "k_live_", "k_test_", "sk-", "eyJ")


_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

# Scan order matters: secrets and e-mails first (they contain digits), phones last.
PII_KINDS: tuple[PiiKind, ...] = (
    PiiKind(
        "secret",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
            r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
            r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
            r"|\bgithub_pat_\w{22,}\b"
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
            r"|\bAIza[0-9A-Za-z_-]{35}"
            r"|\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"
            r"|\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"
            r"|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"
        ),
        may_match=_holds_any(*_SECRET_PREFIXES),
    ),
    PiiKind(
        "secret",
        re.compile(
            r"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password|passwd|pwd)"
            r"\s*[:=]\s*[\"']?([^\s\"']{8,})"
        ),
        group=1,
        may_match=_holds_any(":", "="),
    ),
    PiiKind(
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
        ),
        may_match=_holds_any("@"),
    ),
    PiiKind("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), _iban_ok, may_match=_HOLDS_DIGIT),
    PiiKind(
        "credit_card",
        re.compile(r"(?<![\w.,-])(?:\d[ -]?){11,18}\d(?![\w-]|[.,]\d)"),
        _card_ok,
        may_match=_HOLDS_DIGIT,
    ),
    PiiKind(
        "ssn",
        re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"),
        may_match=_HOLDS_DIGIT,
    ),
    PiiKind(
        "ip",
        re.compile(rf"(?<![\w.:])(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}(?![\w:]|\.\d)"),
        may_match=_HOLDS_DIGIT,
    ),
    PiiKind(
        "ip",
        re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::?[0-9A-Fa-f]{1,4}){1,7})(?![\w:.])"),
        _ipv6_ok,
        may_match=_holds_any(":"),
    ),
    PiiKind(
        "phone",
        re.compile(
            r"(?<![\w+\-./:])(?:\+|00)?\(?\d[\d \u00a0().-]{6,22}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w\-/]|[.,]\d)"
        ),
        _phone_ok,
        may_match=_HOLDS_DIGIT,
    ),
)
KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind.name for kind in PII_KINDS))
if set(KINDS) != {f.name for f in fields(PiiActions)}:  # each kind found needs an action, and the other way round
    raise ImportError(f"PII kinds {sorted(KINDS)} and PiiActions fields differ")


def placeholder(kind: str) -> str:
    return f"<{kind.upper()}>"


@dataclass(frozen=True, order=True)
class PiiSpan:
    start: int
    end: int
    kind: str


def find_pii(text: str, kinds: Collection[str] = KINDS) -> list[PiiSpan]:
    """Every PII span of the given kinds, in text order. A span found by an earlier kind is masked for later ones."""
    masked = text
    spans: list[PiiSpan] = []
    for kind in PII_KINDS:
        if kind.name not in kinds or not kind.may_match(masked):
            continue
        found = [
            PiiSpan(match.start(kind.group), match.end(kind.group), kind.name)
            for match in kind.pattern.finditer(masked)
            if kind.valid is None or kind.valid(match.group(kind.group))
        ]
        for span in found:
            masked = masked[: span.start] + "_" * (span.end - span.start) + masked[span.end :]
        spans += found
    return sorted(spans)


@dataclass(frozen=True)
class Scan:
    text: str
    counts: dict[str, int]
    drop: str | None = None  # the first kind whose action is `drop` and that was found


def scan(text: str, actions: Mapping[str, str], pseudonymizer: Pseudonymizer | None = None) -> Scan:
    """Find PII of each kind in `actions`; replace the `redact` kinds by placeholders and the `pseudonymize`
    kinds by keyed tokens (`pseudonymizer` is then required); count every kind."""
    spans = find_pii(text, actions)
    counts = {name: 0 for name in actions}
    parts, position = [], 0
    for span in spans:
        counts[span.kind] += 1
        action = actions[span.kind]
        if action == "redact":
            parts += [text[position : span.start], placeholder(span.kind)]
            position = span.end
        elif action == "pseudonymize":
            parts += [text[position : span.start], pseudonymizer.token(text[span.start : span.end], span.kind)]
            position = span.end
    parts.append(text[position:])
    drop = next((name for name in actions if actions[name] == "drop" and counts[name]), None)
    return Scan("".join(parts), counts, drop)


def redact_text(text: str) -> str:
    """Every kind redacted: for error messages, logs and anything else a person may read."""
    return scan(text, dict.fromkeys(KINDS, "redact")).text


@pandas_udf(StringType())
def _redact_all(texts: pd.Series) -> pd.Series:
    return texts.map(lambda text: None if text is None else redact_text(text))


def redact_column(text: Column) -> Column:
    """`redact_text` as a Column (Arrow-batched), for quarantined raw records."""
    return _redact_all(text)


def redact_pii(
    df: DataFrame,
    *,
    actions: Mapping[str, str],
    column: str = "text",
    also: Sequence[str] = (),
    pseudonymizer: Pseudonymizer | None = None,
) -> DataFrame:
    """Count PII by kind, redact the kinds whose action is `redact`, replace the `pseudonymize` kinds by keyed
    tokens, flag docs whose action is `drop`.

    Requires: `column` and the `also` columns (strings, or map<string,string> whose values are scanned), which
    are treated like `column`. Adds: `pii` (map<string,int>: matches by kind over all of them, every configured
    kind) and the reject flags (rule `pii:<kind>`, kept when already set); rewrites the scanned columns.
    """
    unknown = sorted(set(actions) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    if pseudonymizer is None and "pseudonymize" in actions.values():
        raise ValueError("PII kinds set to pseudonymize need a Pseudonymizer (a key)")
    actions = dict(actions)
    scanned_columns = [column, *also]
    result_type = StructType(
        [StructField(name, df.schema[name].dataType) for name in scanned_columns]
        + [StructField("_pii", MapType(StringType(), IntegerType())), StructField("_drop", StringType())]
    )

    def scan_row(values: tuple) -> dict:
        counts = dict.fromkeys(actions, 0)
        result = {}
        for name, value in zip(scanned_columns, values, strict=True):
            if value is None:
                result[name] = None
                continue
            if isinstance(value, str):
                scans = {None: scan(value, actions, pseudonymizer)}
                result[name] = scans[None].text
            else:  # a map: a dict, or Arrow's list of (key, value) pairs
                entries = value.items() if isinstance(value, dict) else value
                scans = {k: scan(v, actions, pseudonymizer) for k, v in entries if v is not None}
                result[name] = {k: scans[k].text if k in scans else None for k, _ in entries}
            for found in scans.values():
                for kind, n in found.counts.items():
                    counts[kind] += n
        drop = next((kind for kind in actions if actions[kind] == "drop" and counts[kind]), None)
        return {**result, "_pii": counts, "_drop": drop}

    @pandas_udf(result_type)
    def scan_batch(*series: pd.Series) -> pd.DataFrame:
        return pd.DataFrame([scan_row(values) for values in zip(*series, strict=True)], columns=result_type.names)

    found = df.withColumn("_scan", scan_batch(*[F.col(name) for name in scanned_columns]))
    drop = F.col("_scan._drop")
    scanned = found.withColumns(
        {name: F.col(f"_scan.{name}") for name in scanned_columns} | {"pii": F.col("_scan._pii")}
    )
    return flag_computed(
        scanned,
        F.when(drop.isNotNull(), F.concat(F.lit(PII.name), F.lit(":"), drop)),
        F.when(drop.isNotNull(), F.format_string("%d %s match(es)", F.col("_scan._pii")[drop], drop)),
    ).drop("_scan")


# Lineage values (record ids, file names) must stay unique and must not depend on a key or on config (a doc id
# that changed with them would break reruns): their PII spans become unkeyed SHA-256 tokens.
_LINEAGE_TOKENS = Pseudonymizer(key=b"", chars=16)
_EVERY_KIND_TOKENIZED = dict.fromkeys(KINDS, "pseudonymize")


def lineage_safe(value: str) -> str:
    """An id or a file name with each PII span replaced by `<KIND_hex>` (unkeyed); any other value unchanged.
    Applying it twice changes nothing more."""
    return scan(value, _EVERY_KIND_TOKENIZED, _LINEAGE_TOKENS).text


@pandas_udf(StringType())
def _lineage_safe_batch(values: pd.Series) -> pd.Series:
    return values.map(lambda value: None if value is None else lineage_safe(value))


def lineage_safe_column(values: Column) -> Column:
    """`lineage_safe` as a Column (Arrow-batched)."""
    return _lineage_safe_batch(values)
