"""Decode a page's bytes the way a browser would: byte order mark, declared charset, UTF-8, then detection.

The order, first that decodes wins: a source's configured `encoding` (alone: nothing else is tried); a byte
order mark; the charset the HTTP `Content-Type` declares; the charset a `<meta charset>` or
`<meta http-equiv="Content-Type">` in the first bytes declares; UTF-8; the encoding uchardet detects (through
resiliparse, a dependency). Names are mapped as WHATWG maps labels (`iso-8859-1` and `ascii` decode as
windows-1252, as every browser does). When nothing decodes, the result says which decodings failed where.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_META_SCAN = 4096  # bytes searched for a <meta> charset (WHATWG's prescan reads 1,024; real pages put it later)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""",
    re.I,
)
_MAX_CONTROLS = 0.01  # a detected decoding with more control characters than this share is binary, not text
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG: these labels name windows-1252 (a superset that browsers decode them as).
_AS_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "iso_8859-1", "cp819"}


@dataclass(frozen=True)
class Decoded:
    """The text (None when nothing decoded it), the encoding used and where it came from (`config`, `bom`,
    `header`, `meta`, `utf-8`, `detected`), or what failed."""

    text: str | None
    encoding: str | None = None
    found_by: str | None = None
    failed: str | None = None


def declared_charset(content_type: str | None) -> str | None:
    """The charset a Content-Type value declares, if any."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def meta_charset(data: bytes) -> str | None:
    """The charset a `<meta>` tag in the first bytes of an HTML page declares, if any."""
    match = _META_CHARSET.search(data[:_META_SCAN])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_text(data: bytes, *, content_type: str | None = None, encoding: str | None = None) -> Decoded:
    """Decode a page or text file by the rules above (`encoding`: the source's configured one, none or `auto`
    for the chain)."""
    if encoding and encoding.lower() != "auto":
        return _strict(data, encoding, "config") or Decoded(None, failed=_failure(data, encoding))
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], name, "bom") or Decoded(None, failed=_failure(data[len(bom) :], name))
    failures = []
    for label, found_by in ((declared_charset(content_type), "header"), (meta_charset(data), "meta")):
        if label and (_python_codec(label) or "").startswith(("utf-16", "utf-32")):
            label = "utf-8"  # WHATWG: a declared UTF-16 without a byte order mark is read as UTF-8
        if label:
            decoded = _strict(data, label, found_by)
            if decoded:
                return decoded
            failures.append(f"{found_by} charset {label}: {_failure(data, label)}")
    decoded = _strict(data, "utf-8", "utf-8")
    if decoded:
        return decoded
    failures.append(f"utf-8: {_failure(data, 'utf-8')}")
    detected = _detect(data)
    if detected:
        decoded = _strict(data, detected, "detected")
        controls = _controls(decoded.text) if decoded else 0
        if decoded and controls <= len(decoded.text) * _MAX_CONTROLS:
            return decoded
        why = f"{controls:,} control characters (binary?)" if decoded else _failure(data, detected)
        failures.append(f"detected {detected}: {why}")
    else:
        failures.append("no other encoding detected")
    return Decoded(None, failed="; ".join(failures))


def _controls(text: str) -> int:
    """Control characters other than white space: text has next to none, binary data many."""
    return sum(1 for char in text if char < " " and char not in "\t\n\r\f") + text.count("\x7f")


def _strict(data: bytes, label: str, found_by: str) -> Decoded | None:
    name = _python_codec(label)
    if name is None:
        return None
    try:
        return Decoded(data.decode(name, _C1 if name == "cp1252" else "strict"), name, found_by)
    except UnicodeDecodeError:
        return None


def _failure(data: bytes, label: str) -> str:
    """What decoding `data` as `label` runs into (called for a label that failed)."""
    name = _python_codec(label)
    if name is None:
        return f"unknown encoding {label!r}"
    try:
        data.decode(name)
    except UnicodeDecodeError as exc:
        return f"not valid {name} at byte {exc.start}"
    return f"not valid {name}"


def _c1_controls(error: UnicodeDecodeError) -> tuple[str, int]:
    """WHATWG's windows-1252: the five bytes cp1252 leaves undefined decode to the C1 controls of their value."""
    return error.object[error.start : error.end].decode("latin-1"), error.end


_C1 = "refinery-windows-1252"
codecs.register_error(_C1, _c1_controls)


def _python_codec(label: str) -> str | None:
    """Python's codec name for a charset label, WHATWG's windows-1252 for the latin-1 family; None if unknown."""
    label = label.strip().strip("\"'").lower()
    if label in _AS_WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _detect(data: bytes) -> str | None:
    from resiliparse.parse.encoding import detect_encoding

    detected = detect_encoding(data)
    return detected if detected and detected.lower() != "utf-8" else None
