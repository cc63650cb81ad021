"""`find_pii` (refinery.transforms.pii_patterns) without running every pattern at every position: a compiled
pass finds, for each of `PII_KINDS`' patterns, the positions where a match can start, and the pattern itself
(Python's `re`, with its validator) is tried there only, in the reference's order and with its masking.

A candidate test is a necessary condition of its pattern (the first characters, the look-behind, the length,
digit count or dots of the run a match lies in), taken on the text the pattern sees: when a kind found spans,
they are masked with `_` and the later kinds' candidates are found again. At every other position the pattern
cannot match, so trying it at the candidates, left to right and skipping those inside the previous match,
finds what `finditer` finds (tests/transforms/test_pii_kernel.py compares the spans).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numba import njit

from refinery.transforms.kernels.charclass import ALNUM, DECIMAL, flags
from refinery.transforms.pii_patterns import KINDS, PII_KINDS, PiiSpan

_MASK = ord("_")


@njit(cache=True)
def _ascii_alnum(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


@njit(cache=True)
def _hex(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


@njit(cache=True)
def _lower(c):
    return c + 32 if 0x41 <= c <= 0x5A else c


@njit(cache=True)
def _at(cp, i, c):
    return i < cp.size and cp[i] == c


@njit(cache=True)
def _phone_body(flags, c):
    return (flags[c] & DECIMAL) != 0 or c in (0x20, 0xA0, 0x28, 0x29, 0x2E, 0x2D, 0x2B)


@njit(cache=True)
def _run(cp, flags, p, body):
    """From p, over a pattern body's characters: (their number, digits, dots). Body 0: a phone's digits, spaces,
    brackets, dots, dashes and plus; 1: a card's digits, spaces and dashes; 2: an IPv4's digits and dots."""
    size = digits = dots = 0
    for i in range(p, cp.size):
        c = cp[i]
        digit = (flags[c] & DECIMAL) != 0
        if body == 0:
            inside = _phone_body(flags, c)
        elif body == 1:
            inside = digit or c == 0x20 or c == 0x2D
        else:
            inside = digit or c == 0x2E
        if not inside:
            break
        size += 1
        digits += digit
        dots += c == 0x2E
    return size, digits, dots


@njit(cache=True)
def _mail_local(cp, p):
    """Whether the run of an e-mail's local-part characters from p ends at an '@'."""
    for i in range(p, cp.size):
        c = cp[i]
        if not (_ascii_alnum(c) or c == 0x2E or c == 0x5F or c == 0x25 or c == 0x2B or c == 0x2D):
            return c == 0x40
    return False


@njit(cache=True)
def candidates(cp, flags, first_kind, kinds, positions):
    """(pattern index, position) of every candidate start of the patterns from `first_kind` on, in position
    order per pattern; returns how many. Every pattern but the private-key block needs a non-word character
    (or the start) before its match, so only the starts of words and a "--" are looked at."""
    found = 0
    for p in range(cp.size):
        c = cp[p]
        before = cp[p - 1] if p > 0 else 0x20
        c1 = cp[p + 1] if p + 1 < cp.size else 0
        if p > 0 and ((flags[before] & ALNUM) != 0 or before == _MASK):
            if c == 0x2D and c1 == 0x2D and first_kind == 0:
                kinds[found], positions[found] = 0, p
                found += 1
            continue
        digit = (flags[c] & DECIMAL) != 0
        for k in range(first_kind, 9):
            hit = False
            if k == 0:  # secret formats
                hit = (
                    (c == 0x2D and c1 == 0x2D)
                    or (c == 0x41 and (c1 == 0x4B or c1 == 0x53 or c1 == 0x49))  # AKIA ASIA AIza
                    or (c == 0x67 and (c1 == 0x68 or c1 == 0x69))  # gh_ github_pat_
                    or (c == 0x78 and c1 == 0x6F)  # xox
                    or ((c == 0x73 or c == 0x72) and c1 == 0x6B)  # sk_ rk_ sk-
                    or (c == 0x65 and c1 == 0x79)  # eyJ
                )
            elif k == 1:  # key = value (case-insensitive; "s" also matches the long s)
                first, second = _lower(c), _lower(c1)
                hit = (
                    (first == 0x61 and (second == 0x70 or second == 0x63 or second == 0x75))  # api access auth
                    or ((first == 0x73 or c == 0x17F) and second == 0x65)  # secret
                    or (first == 0x70 and (second == 0x61 or second == 0x77))  # password passwd pwd
                )
            elif k == 2:  # e-mail
                hit = _ascii_alnum(c) and before != 0x2E and before != 0x2B and before != 0x2D and _mail_local(cp, p)
            elif k == 3:  # IBAN
                hit = (
                    0x41 <= c <= 0x5A
                    and 0x41 <= c1 <= 0x5A
                    and p + 3 < cp.size
                    and (flags[cp[p + 2]] & DECIMAL) != 0
                    and (flags[cp[p + 3]] & DECIMAL) != 0
                )
            elif k == 4:  # card
                hit = digit and before != 0x2E and before != 0x2C and before != 0x2D and _run(cp, flags, p, 1)[1] >= 12
            elif k == 5:  # SSN
                hit = digit and before != 0x2D and _at(cp, p + 3, 0x2D)
            elif k == 6:  # IPv4
                hit = digit and before != 0x2E and before != 0x3A and _run(cp, flags, p, 2)[2] >= 3
            elif k == 7:  # IPv6
                if _hex(c) and before != 0x3A and before != 0x2E:
                    h = 0
                    while h < 5 and p + h < cp.size and _hex(cp[p + h]):
                        h += 1
                    hit = h <= 4 and _at(cp, p + h, 0x3A)
            else:  # phone
                hit = (
                    (digit or c == 0x2B or c == 0x28)
                    and not (before == 0x2B or before == 0x2D or before == 0x2E or before == 0x2F or before == 0x3A)
                    and _run(cp, flags, p, 0)[0] >= 8
                )
            if hit:
                kinds[found], positions[found] = k, p
                found += 1
    return found


def find_pii_fast(text: str, kinds: Collection[str] = KINDS) -> list[PiiSpan]:
    """`find_pii(text, kinds)`: the same spans, each pattern tried only where it can start."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    found_kinds, found_at = _buffers(points.size * 9 + 1)
    n = candidates(points, flags(), 0, found_kinds, found_at)
    at = _by_kind(found_kinds, found_at, n)
    masked, spans = text, []
    for index, kind in enumerate(PII_KINDS):
        if kind.name not in kinds or index not in at:
            continue
        found, resume = [], 0
        for position in at[index]:
            if position < resume:
                continue
            match = kind.pattern.match(masked, position)
            if match is None:
                continue
            resume = match.end()
            if kind.valid is None or kind.valid(match.group(kind.group)):
                found.append(PiiSpan(match.start(kind.group), match.end(kind.group), kind.name))
        if found:
            points = points.copy()
            for span in found:
                masked = masked[: span.start] + "_" * (span.end - span.start) + masked[span.end :]
                points[span.start : span.end] = _MASK
            n = candidates(points, flags(), index + 1, found_kinds, found_at)
            at = _by_kind(found_kinds, found_at, n)
        spans += found
    return sorted(spans)


def _by_kind(found_kinds: np.ndarray, found_at: np.ndarray, n: int) -> dict[int, list[int]]:
    at: dict[int, list[int]] = {}
    for kind, position in zip(found_kinds[:n].tolist(), found_at[:n].tolist(), strict=True):
        at.setdefault(kind, []).append(position)
    return at


_SCRATCH: list[np.ndarray] = [np.empty(0, np.int64), np.empty(0, np.int64)]


def _buffers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate arrays of at least `size`, reused across calls (a Python worker runs one batch at a time)."""
    if _SCRATCH[0].size < size:
        _SCRATCH[:] = [np.empty(max(size, 1 << 16), np.int64) for _ in range(2)]
    return _SCRATCH[0], _SCRATCH[1]
