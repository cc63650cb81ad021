"""A `.warc.gz` / `.arc.gz` file inflated gzip member by member, for `refinery.io.archive`'s framer: where each
member starts (a record's offset, as Common Crawl's indexes give it), and where a member would not inflate (its
bytes skipped to the next gzip header, noted as damage: the framer rejects the record there, not the file).
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from refinery.rejects import CORRUPT_RECORD, TRUNCATED_RECORD

_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_HELD = 64 << 20  # compressed bytes of one member held to find the next one in when it is corrupt


@dataclass
class Damage:
    at: int  # where in the inflated stream: the damaged member's output, or where the skipped bytes were
    offset: int  # compressed offset of the member or skipped bytes
    rule: str
    detail: str
    alone: bool  # nothing came out of it: a reject of its own, no record's


class Inflated:
    """A file's bytes, inflated gzip member by member when it is a gzip file, with where each member started
    and where a member could not be inflated."""

    def __init__(self, stream: BinaryIO, gzipped: bool, cap: int):
        self.stream, self.gzipped, self.cap = stream, gzipped, cap
        self.members: deque[tuple[int, int]] = deque()  # (inflated position, compressed offset)
        self.damage: list[Damage] = []
        self.total = 0

    def chunks(self) -> Iterator[bytes]:
        yield from (self._members() if self.gzipped else self._plain())

    def _plain(self) -> Iterator[bytes]:
        while chunk := self.stream.read(_CHUNK):
            yield from self._counted(chunk)

    def _counted(self, chunk: bytes) -> Iterator[bytes]:
        self.total += len(chunk)
        if self.total > self.cap:
            raise InflationCapError(self.cap)
        yield chunk

    def _members(self) -> Iterator[bytes]:
        pending, offset = b"", 0  # compressed bytes not inflated yet, and their offset in the file
        while True:
            if len(pending) < _CHUNK:
                pending += self.stream.read(_CHUNK)
            if not pending:
                return
            if not pending.startswith(GZIP_MAGIC):
                skipped = self._to_next_member(pending, 1)
                self._damaged(offset, CORRUPT_RECORD.name, f"{skipped:,} bytes at {offset:,} are no gzip member", None)
                pending, offset = self._rest, offset + skipped
                continue
            member_start = self.total
            self.members.append((member_start, offset))
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            held: list[bytes] = []  # the member's bytes so far, to find the next member in when it is corrupt
            used = 0
            try:
                while not inflater.eof:
                    if not pending:
                        pending = self.stream.read(_CHUNK)
                        if not pending:
                            raise EOFError
                    data = inflater.decompress(pending, _CHUNK)
                    rest = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                    consumed = pending[: len(pending) - len(rest)]
                    used += len(consumed)
                    if used <= _MAX_HELD:
                        held.append(consumed)
                    pending = rest
                    if data:
                        yield from self._counted(data)
            except (zlib.error, EOFError) as exc:
                # Resynchronise at the next gzip member after this one's start: a damaged member may have run on
                # into the members after it, to the file's end.
                member = b"".join(held) + pending if used <= _MAX_HELD else pending
                base = offset if used <= _MAX_HELD else offset + used
                skipped = self._to_next_member(member, 1)
                if isinstance(exc, EOFError) and not self._rest:
                    detail = f"the file ends inside the gzip member at {offset:,}"
                    self._damaged(offset, TRUNCATED_RECORD.name, detail, member_start)
                    return
                reason = str(exc) if isinstance(exc, zlib.error) else "it runs on into the members after it"
                detail = f"the gzip member at {offset:,} does not inflate ({reason})"
                self._damaged(offset, CORRUPT_RECORD.name, detail, member_start)
                pending, offset = self._rest, base + skipped
                continue
            offset += used

    def _to_next_member(self, data: bytes, start: int) -> int:
        """Bytes before the next gzip magic in `data` from `start` on, reading on when there is none there; what
        is left from that magic on is `self._rest`."""
        while True:
            found = data.find(GZIP_MAGIC, start)
            if found >= 0:
                self._rest = data[found:]
                return found
            more = self.stream.read(_CHUNK)
            if not more:
                self._rest = b""
                return len(data)
            start = max(len(data) - len(GZIP_MAGIC) + 1, start)
            data += more

    def _damaged(self, offset: int, rule: str, detail: str, member_start: int | None) -> None:
        """Note damage at compressed `offset`: inside the output of the member that started at `member_start`
        (the record there is damaged), or, when nothing came out of it, a span of its own."""
        spans = member_start is not None and self.total > member_start
        if member_start is not None and not spans:
            self.members.pop()  # the next member's output starts where this one's would have
        self.damage.append(Damage(member_start if spans else self.total, offset, rule, detail, not spans))

    def starts_between(self, start: int, stop: int) -> int | None:
        """The first gzip member that starts in the output between `start` and `stop` (a record starts there)."""
        return next((at for at, _ in self.members if start < at < stop), None)

    def offset_of(self, position: int) -> int:
        """The offset a record starting at `position` (inflated) is known by: its gzip member's compressed offset
        when it starts one, else the position itself."""
        while self.members and self.members[0][0] < position:
            self.members.popleft()
        if self.members and self.members[0][0] == position:
            return self.members[0][1]
        return position


class InflationCapError(Exception):
    def __init__(self, cap: int):
        super().__init__(f"inflates past {cap:,} bytes (ingest.max_inflation): read no further")


class Prefixed:
    """A stream with bytes already read put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def read(self, size: int) -> bytes:
        out, self.head = self.head[:size], self.head[size:]
        return out + self.stream.read(size - len(out)) if len(out) < size else out
