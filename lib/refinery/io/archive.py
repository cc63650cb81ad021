"""Frame WARC and ARC files into records that stand on their own, so one bad record costs one reject, not the file.

A record is found by its header (`WARC/1.x` and header lines, or an ARC header line) and its declared length.
When the bytes after it are not the next record's start (a record cut short, a wrong Content-Length, garbage,
a gzip member that will not inflate), the framer finds the next record start and goes on from there: the bad
span becomes one `Framed` record with a rule (`truncated_record`, `malformed_record`, `corrupt_record`,
`record_too_large`), every record before and after is kept. `.warc.gz` / `.arc.gz` files are inflated member by
member, a record's offset being its member's offset in the compressed file (as Common Crawl's indexes give
it); files compressed as a whole are read as a stream, offsets then being positions in the inflated bytes.
Pure Python over a byte stream, no Spark: the ingest reader and forget's raw rewrite frame by it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from refinery.io.gzip_members import GZIP_MAGIC, Damage, Inflated, InflationCapError, Prefixed
from refinery.rejects import CORRUPT_RECORD, DIGEST_MISMATCH, MALFORMED_RECORD, RECORD_TOO_LARGE, TRUNCATED_RECORD

_MAX_HEADER = 1 << 16  # bytes a record's header block may take
_WARC_START = re.compile(rb"WARC/\d\.\d+\r?\n")
_NEXT_WARC = re.compile(rb"(WARC/\d\.\d+\r?\nWARC-[A-Za-z-]+:)")  # also where the newline before it is lost
# url ip date mime length (ARC v1), or url ip date mime status checksum location offset filename length (v2)
_ARC_LINE = re.compile(rb"([A-Za-z][\w+.-]*:\S*) (\S+) (\d{14}) (\S*)(?: \S+ \S+ \S+ \S+ \S+)? (\d+)\r?\n")
_NEXT_ARC = re.compile(rb"\n([A-Za-z][\w+.-]*:\S* \S+ \d{14} \S*(?: \S+ \S+ \S+ \S+ \S+)? \d+\r?\n)")


@dataclass(frozen=True)
class Framed:
    """One record's bytes and place: `header` (the WARC header block, or the ARC line rewritten as ARC v1),
    `block` (its declared length of content), or a rule and detail when the span is not a readable record."""

    offset: int
    format: str  # "warc" or "arc"
    header: bytes = b""
    block: bytes = b""
    rule: str | None = None
    detail: str | None = None

    def warc_header(self, name: str) -> str | None:
        """A WARC header's value (case-insensitive name), None when absent."""
        return self._warc_headers.get(name.lower())

    @functools.cached_property
    def _warc_headers(self) -> dict[str, str]:
        """The header block parsed once (a record's headers are asked for several times); the first of a name."""
        found: dict[str, str] = {}
        for line in self.header.split(b"\n")[1:]:
            field, sep, value = line.partition(b":")
            if sep:
                found.setdefault(field.strip().lower().decode("latin-1"), value.strip().decode("utf-8", "replace"))
        return found

    def as_bytes(self) -> bytes:
        """The record as a WARC or ARC file of its own (what warcio parses)."""
        return self.header + self.block + (b"\r\n\r\n" if self.format == "warc" else b"\n")


class _Buffer:
    """A window on the inflated stream: `data[i]` is stream position `base + i`."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.data, self.base, self.done = chunks, bytearray(), 0, False

    @property
    def end(self) -> int:
        """The stream position after the bytes held."""
        return self.base + len(self.data)

    def fill(self, end: int) -> bool:
        """Hold the stream up to position `end`; False when it ends before."""
        while self.end < end and not self.done:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.done = True
            else:
                self.data += chunk
        return self.end >= end

    def get(self, start: int, end: int) -> bytes:
        self.fill(end)
        return bytes(self.data[start - self.base : end - self.base])

    def drop(self, before: int) -> None:
        """Forget the bytes before stream position `before`."""
        cut = before - self.base
        if cut > 0:
            del self.data[:cut]
            self.base = before

    def skip(self, end: int) -> int:
        """Pass over the stream up to `end` without holding it; the position reached (short of `end` when the
        stream ends first)."""
        while self.end < end:
            self.drop(self.end)
            if not self.fill(self.end + 1):
                return self.end
        self.drop(end)
        return end

    def search(self, pattern: re.Pattern, start: int, boundary: Callable[[int, int], int | None]) -> int | None:
        """Stream position of the next match's group 1 at or after `start`, or of a `boundary(start, stop)`
        before it, reading on as needed."""
        lowest, start = start, max(start - (pattern is _NEXT_ARC), self.base)  # ARC's pattern takes the newline
        while True:
            self.fill(start + 1)
            match = pattern.search(self.data, start - self.base)
            found = self.base + match.start(1) if match else None
            before = boundary(lowest - 1, found if found is not None else self.end + 1)
            if before is not None:
                return before
            if found is not None or self.done:
                return found
            self.drop(max(start, self.end - _MAX_HEADER))
            start = self.base
            self.fill(self.end + 1)

    def line(self, start: int) -> bytes | None:
        """The line at `start` with its newline (None when none ends within _MAX_HEADER bytes)."""
        while True:
            at = self.data.find(b"\n", start - self.base)
            if at >= 0:
                return bytes(self.data[start - self.base : at + 1])
            if self.end - start > _MAX_HEADER or not self.fill(self.end + 1):
                return None


def frame_records(stream: BinaryIO, name: str, *, max_record_bytes: int, cap: int) -> Iterator[Framed]:
    """Every record of a WARC or ARC file, in order, each as read or as the rule it breaks. A file named `.gz`
    that starts as gzip is inflated member by member; `stream` is otherwise read as it is (a file compressed
    as a whole comes inflated). Reading stops, with one `corrupt_record`, past `cap` inflated bytes."""
    head = stream.read(len(GZIP_MAGIC))
    # A `.gz` file is read as gzip members (a damaged first member too) unless it is a plain WARC or ARC file.
    gzipped = name.lower().endswith(".gz") and (head == GZIP_MAGIC or not _looks_plain(head))
    inflated = Inflated(Prefixed(head, stream), gzipped, cap)
    framer = _Framer(inflated, max_record_bytes)
    try:
        yield from framer.records()
    except InflationCapError as exc:
        yield Framed(
            framer.inflated.offset_of(framer.position), framer.format, rule=CORRUPT_RECORD.name, detail=str(exc)
        )


def _format(head: bytes) -> str:
    """`arc` when a file's first bytes hold an ARC header line (at the start, or after a damaged start) and no
    WARC record, else `warc`."""
    if head.startswith(b"WARC/") or _NEXT_WARC.search(head):
        return "warc"
    return "arc" if _ARC_LINE.match(head) or _NEXT_ARC.search(head) else "warc"


def _looks_plain(head: bytes) -> bool:
    """Whether a file's first bytes are a WARC version line or an ARC header's url."""
    return head.startswith(b"WAR") or head[:3].isascii() and head[:3].isalpha()


@dataclass(frozen=True)
class _Header:
    parsed: bytes  # the WARC header block, or the ARC line as ARC v1
    size: int  # bytes it takes in the file
    length: int  # the content length it declares


class _Framer:
    def __init__(self, inflated: Inflated, max_record_bytes: int):
        self.inflated, self.max_record_bytes = inflated, max_record_bytes
        self.buffer = _Buffer(inflated.chunks())
        self.position = 0
        self.format = "warc"
        self.reported = 0  # damage entries already reported

    def records(self) -> Iterator[Framed]:
        buffer = self.buffer
        self.format = _format(buffer.get(0, _MAX_HEADER))
        while True:
            self.position = start = self._after_blank_lines(self.position)
            yield from self._damage_before(start)
            if not buffer.fill(start + 1):
                yield from self._damage_before(None)
                return
            header = self._header(start)
            if header is None:
                restart = self._next_start(start + 1)
                damage = self._damage_in(start, restart if restart is not None else self.buffer.end + 1)
                rule, detail = (
                    (damage.rule, damage.detail) if damage else (MALFORMED_RECORD.name, "no record header here")
                )
                yield self._bad(start, restart, rule, detail)
                continue
            block_start = start + header.size
            end = block_start + header.length
            if header.length > self.max_record_bytes:
                yield self._too_large(start, block_start, end)
                continue
            complete = buffer.fill(end)
            if complete and self._ends_at(end):
                following = self._after_blank_lines(end)
                damage = self._damage_in(start, following)
                if damage:
                    yield self._bad(start, following, damage.rule, damage.detail)
                    continue
                block = buffer.get(block_start, end)
                yield Framed(self.inflated.offset_of(start), self.format, header.parsed, block)
                self.position = following
                buffer.drop(following)
                continue
            yield self._misframed(start, block_start, end, complete)

    def _misframed(self, start: int, block_start: int, end: int, complete: bool) -> Framed:
        """The record at `start` does not end where its length says: up to the next record start, rejected as
        damaged (a member that would not inflate), truncated (the next record or the file's end comes first), or
        malformed (its length falls short of where the next record starts)."""
        restart = self._next_start(block_start)
        stop = restart if restart is not None else self.buffer.end
        damage = self._damage_in(start, stop)
        if damage:
            return self._bad(start, restart, damage.rule, damage.detail)
        length = end - block_start
        if (restart is None and not complete) or (restart is not None and restart < end):
            short = length - (stop - block_start)
            return self._bad(start, restart, TRUNCATED_RECORD.name, f"{short:,} bytes short of its length {length:,}")
        return self._bad(start, restart, MALFORMED_RECORD.name, f"its length {length:,} does not end the record")

    def _too_large(self, start: int, block_start: int, end: int) -> Framed:
        reached = self.buffer.skip(end)
        length = end - block_start
        if reached < end:
            return self._bad(
                start, reached, TRUNCATED_RECORD.name, f"the file ends inside a record of {length:,} bytes"
            )
        return self._bad(start, end, RECORD_TOO_LARGE.name, f"record of {length:,} bytes > {self.max_record_bytes:,}")

    def _header(self, start: int) -> _Header | None:
        """The header of the record at `start`, None when there is no WARC (or ARC) record header there."""
        first = self.buffer.line(start)
        if first is None:
            return None
        if self.format == "arc":
            arc = _ARC_LINE.fullmatch(first)
            if arc is None:
                return None
            url, ip, date, mime, length = arc.groups()
            return _Header(b" ".join([url, ip, date, mime or b"-", length]) + b"\n", len(first), int(length))
        if not _WARC_START.fullmatch(first):
            return None
        lines, at, length = [first], start + len(first), None
        while (line := self.buffer.line(at)) is not None and line.strip():
            lines.append(line)
            at += len(line)
            field, sep, value = line.partition(b":")
            if sep and field.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
            if at - start > _MAX_HEADER:
                return None
        if line is None or length is None:
            return None
        lines.append(line)
        return _Header(b"".join(lines), at + len(line) - start, length)

    def _bad(self, start: int, until: int | None, rule: str, detail: str) -> Framed:
        """A span that is no readable record, from `start` to `until` (None: the stream's end)."""
        offset = self.inflated.offset_of(start)
        self.position = self.buffer.skip(1 << 62) if until is None else until
        self.buffer.drop(self.position)
        return Framed(offset, self.format, rule=rule, detail=detail)

    def _after_blank_lines(self, position: int) -> int:
        """The position after CR and LF bytes at `position` (the separators between records)."""
        buffer = self.buffer
        while buffer.fill(position + 1):
            data, at = buffer.data, position - buffer.base
            while at < len(data) and data[at] in b"\r\n":
                at += 1
            position = buffer.base + at
            if at < len(data):
                break
        return position

    def _ends_at(self, end: int) -> bool:
        """Whether a record ends at `end`: the separator its format writes follows (two CRLFs after a WARC record,
        a newline after an ARC record), or the file ends, or (a WARC writer that left the separator out) the next
        WARC record starts right there."""
        separator = b"\r\n\r\n" if self.format == "warc" else b"\n"
        if self.buffer.get(end, end + len(separator)) == separator or not self.buffer.fill(end + 1):
            return True
        line = self.buffer.line(end) if self.format == "warc" else None
        return line is not None and _WARC_START.fullmatch(line) is not None

    def _next_start(self, start: int) -> int | None:
        """Where the next record starts at or after `start`: a record header after a newline, or a gzip member."""
        pattern = _NEXT_WARC if self.format == "warc" else _NEXT_ARC
        return self.buffer.search(pattern, start, self.inflated.starts_between)

    def _damage_in(self, start: int, stop: int) -> Damage | None:
        """The damage (not reported yet) in the output of a member that starts at `start`, marked reported."""
        for index in range(self.reported, len(self.inflated.damage)):
            damage = self.inflated.damage[index]
            if not damage.alone and start <= damage.at < max(stop, start + 1):
                self.reported = index + 1
                return damage
        return None

    def _damage_before(self, position: int | None) -> Iterator[Framed]:
        """Damage before `position` (None: all that is left) not reported with a record: spans of their own."""
        while self.reported < len(self.inflated.damage):
            damage = self.inflated.damage[self.reported]
            if position is not None and damage.at >= position and not (damage.alone and damage.at == position):
                return
            self.reported += 1
            yield Framed(damage.offset, self.format, rule=damage.rule, detail=damage.detail)


def digest_problem(record: Framed, payload_start: int | None) -> tuple[str, str] | None:
    """(rule, detail) when the record's `WARC-Block-Digest` or `WARC-Payload-Digest` does not match its bytes;
    the payload is the block from `payload_start` (after the HTTP headers), or the whole block."""
    checks = (("WARC-Block-Digest", record.block), ("WARC-Payload-Digest", record.block[payload_start or 0 :]))
    for header, content in checks:
        declared = record.warc_header(header)
        if not declared or ":" not in declared:
            continue
        algorithm, _, value = declared.partition(":")
        try:
            digest = hashlib.new(algorithm.strip().lower().replace("-", ""), content).digest()
        except ValueError:
            continue  # an algorithm this Python does not have: not checked
        value = value.strip()
        if value.upper() != base64.b32encode(digest).decode() and value.lower() != digest.hex():
            return DIGEST_MISMATCH.name, f"{header} {algorithm} does not match the record's bytes"
    return None
