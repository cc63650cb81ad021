"""PII kinds as patterns: e-mails, phones, IPs, cards (Luhn), IBANs (mod 97), US SSNs, secrets; `find_pii`.

Each kind is a regular expression for candidates plus, where the format has one, a validator
(Luhn for cards, ISO 13616 mod-97 for IBANs, `ipaddress` for IPv6, digit counts and date/ISBN
shapes for phones), so order numbers, dates, versions, ISBNs and Luhn-invalid numbers are left alone.
Kinds are scanned in a fixed order and each match is masked before the next kind looks, so a later
kind never re-reads an earlier one's digits. Plain Python without Spark: the reference the compiled finder
(`refinery.transforms.kernels.pii`) is held equal to.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields

from refinery.transforms.params import PiiActions


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
