"""Web archives shaped like Common Crawl's, written byte by byte for the tests: WARC files of request, response and
metadata records with digests, WET files of conversion records, ARC files, and the damage real dumps show."""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid

DATE = "2026-03-01T12:00:00Z"


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_record(rec_type: str, block: bytes, url: str | None = None, **headers: str) -> bytes:
    """One WARC/1.0 record; `headers` are extra WARC headers (underscores written as dashes)."""
    fields = {
        "WARC-Type": rec_type,
        "WARC-Date": DATE,
        "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{rec_type}:{url}:{len(block)}')}>",
    }
    if url:
        fields["WARC-Target-URI"] = url
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    fields["WARC-Block-Digest"] = _digest(block)
    fields["Content-Length"] = str(len(block))
    head = "WARC/1.0\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html; charset=UTF-8") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def crawl_records(pages: list[tuple[str, bytes, str]]) -> list[bytes]:
    """A WARC file's records as Common Crawl writes them: warcinfo, then request, response (with payload
    digest) and metadata per page; a page is (url, body, Content-Type)."""
    records = [warc_record("warcinfo", b"software: refinery-tests\r\nformat: WARC File Format 1.0\r\n")]
    for url, body, content_type in pages:
        request = f"GET / HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()
        records.append(warc_record("request", request, url, Content_Type="application/http; msgtype=request"))
        records.append(
            warc_record(
                "response",
                http_response(body, content_type),
                url,
                Content_Type="application/http; msgtype=response",
                WARC_Payload_Digest=_digest(body),
                WARC_Identified_Payload_Type="text/html",
            )
        )
        records.append(warc_record("metadata", b"fetchTimeMs: 12\r\n", url, Content_Type="application/warc-fields"))
    return records


def wet_records(pages: list[tuple[str, str, str]]) -> list[bytes]:
    """A WET file's records: warcinfo, then one conversion record per page (url, text, language)."""
    records = [warc_record("warcinfo", b"software: refinery-tests\r\n")]
    for url, text, language in pages:
        records.append(
            warc_record(
                "conversion",
                text.encode(),
                url,
                Content_Type="text/plain",
                WARC_Refers_To=f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>",
                WARC_Identified_Content_Language=language,
            )
        )
    return records


def arc_records(pages: list[tuple[str, bytes]]) -> list[bytes]:
    """An ARC v1 file's records: the file header, then one record per page (url, HTML body)."""
    header = b"1 0 refinery-tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [_arc("filedesc://crawl.arc", "0.0.0.0", "text/plain", header)]
    for url, body in pages:
        records.append(_arc(url, "10.0.0.1", "text/html", http_response(body, "text/html; charset=utf-8")))
    return records


def _arc(url: str, ip: str, mime: str, block: bytes) -> bytes:
    return f"{url} {ip} 20260301120000 {mime} {len(block)}\n".encode() + block + b"\n"


def members(records: list[bytes]) -> bytes:
    """Records gzipped one member each (`.warc.gz`, `.arc.gz`), deterministically."""
    return b"".join(gzip.compress(record, mtime=0) for record in records)


def cut_short(record: bytes, missing: int, format: str = "warc") -> bytes:
    """A record whose content lost its last `missing` bytes while its declared length stayed."""
    end = len(b"\r\n\r\n") if format == "warc" else 1
    return record[: len(record) - end - missing] + record[len(record) - end :]


SENTENCES = (
    "The harbour committee met on Tuesday to discuss the new ferry timetable and the cost of repairs to the pier.",
    "Residents asked for more evening crossings and a covered waiting room near the ticket office.",
    "A local baker has opened a second shop on the market square, selling rye bread and apple cakes.",
    "The school choir will perform at the town hall next month, with tickets available at the library.",
    "Heavy rain flooded the lower fields, and farmers expect the harvest to start two weeks later than usual.",
    "The museum is showing a collection of old maps that trace how the coastline has changed since 1800.",
    "Volunteers planted three hundred trees along the river path during the spring cleaning weekend.",
    "The council approved a plan to repair the cycle lanes on the main road before the end of summer.",
    "A new bus line connects the station with the hospital every twenty minutes on weekdays.",
    "The football club celebrated its centenary with a match against a team from the neighbouring island.",
    "Engineers inspected the old bridge and found that the stone arches are still in good condition.",
    "The theatre group is looking for actors for an autumn production of a comedy set in a fishing village.",
    "Students from the technical college built a small weather station on the roof of their workshop.",
    "The winter market will open in December with stalls selling wool, honey, candles and smoked fish.",
    "Birdwatchers counted more than forty species in the marshes during the annual survey in May.",
    "The lighthouse keeper's cottage has been restored and now hosts a small exhibition about shipwrecks.",
)


def pages(count: int, host: str = "news.example.org") -> list[tuple[str, bytes, str]]:
    """HTML pages of English prose (nine sentences each, in a different order and choice per page), UTF-8."""
    out = []
    for i in range(count):
        chosen = [SENTENCES[(i * 7 + k * (1 + i % 5)) % len(SENTENCES)] for k in range(9)]
        body = f"<html><head><title>Report {i}</title></head><body><p>" + " ".join(chosen) + "</p></body></html>"
        out.append((f"https://{host}/{i}", body.encode(), "text/html; charset=UTF-8"))
    return out


LEGACY_PAGES = {  # name -> (bytes, the text a reader must see in it)
    "utf8.html": ("<html><body><p>Grüße aus Köln, sagte die Redaktion.</p></body></html>".encode(), "Grüße aus Köln"),
    "cp1252-meta.html": (
        '<html><head><meta charset="windows-1252"></head><p>Le comité a visité l’église à 2 €.</p>'.encode("cp1252"),
        "l’église à 2 €",
    ),
    "latin1-http-equiv.html": (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
        "<body><p>Señora Muñoz llegó a la estación.</p></body></html>".encode("latin-1"),
        "Señora Muñoz llegó",
    ),
    "latin1-undeclared.html": (
        ("<p>" + "Le comité a visité l'église près du marché. " * 8 + "</p>").encode("latin-1"),
        "visité l'église près",
    ),
    "shift-jis.html": (
        '<html><head><meta charset="Shift_JIS"></head><body><p>東京の天気は晴れです。</p>'.encode("shift_jis"),
        "東京の天気は晴れです",
    ),
}


def write_crawl_set(raw) -> dict[str, tuple[int, int, list[str]]]:
    """A raw folder shaped like a user's web archives, with the damage real ones show; returns per file the
    records it holds, those that reach bronze, and the rules of the rest (sources: `CRAWL_SOURCES`)."""
    for folder in ("crawl", "wet", "arc", "html"):
        (raw / folder).mkdir(parents=True, exist_ok=True)
    records = crawl_records(pages(30))
    records[3 * 14 + 2] = cut_short(records[3 * 14 + 2], 12)  # page 14's response: 12 bytes short
    records[3 * 20 + 2] = records[3 * 20 + 2].replace(b"</p>", b"</P>")  # page 20: its digest no longer matches
    (raw / "crawl" / "CC-MAIN-00001.warc.gz").write_bytes(members(records))
    plain = crawl_records(pages(5, "blog.example.net"))
    stray = b"\0\0 stray bytes\n"
    (raw / "crawl" / "CC-MAIN-00002.warc").write_bytes(b"".join(plain[:7]) + stray + b"".join(plain[7:]))
    parts = [members([record]) for record in crawl_records(pages(6, "shop.example.com"))]
    parts[5] = parts[5][:30] + b"\0" * 10 + parts[5][40:]  # the second page's response: a member that won't inflate
    (raw / "crawl" / "CC-MAIN-00003.warc.gz").write_bytes(b"".join(parts))
    wet = [(f"https://news.example.org/{i}", f"Text of page {i}. " * 20, "eng") for i in range(9)]
    wet.append(("https://empty.example.org/", "  \n ", "eng"))
    (raw / "wet" / "CC-MAIN-00001.warc.wet.gz").write_bytes(members(wet_records(wet)))
    arc = arc_records([(f"http://old.example.com/{i}", f"<p>Archived page number {i}.</p>".encode()) for i in range(6)])
    arc[3] = cut_short(arc[3], 12, "arc")
    (raw / "arc" / "IA-00001.arc.gz").write_bytes(members(arc))
    (raw / "arc" / "robots-only.warc.gz").write_bytes(members(crawl_records([])))  # warcinfo alone: no document
    for name, (data, _) in LEGACY_PAGES.items():
        (raw / "html" / name).write_bytes(data)
    (raw / "html" / "logo.png.html").write_bytes(bytes(range(256)) * 8)  # binary served as a page
    return {
        "crawl/CC-MAIN-00001.warc.gz": (30, 28, ["digest_mismatch", "truncated_record"]),
        "crawl/CC-MAIN-00002.warc": (6, 5, ["malformed_record"]),
        "crawl/CC-MAIN-00003.warc.gz": (6, 5, ["corrupt_record"]),
        "wet/CC-MAIN-00001.warc.wet.gz": (10, 9, ["empty_record"]),
        "arc/IA-00001.arc.gz": (6, 5, ["truncated_record"]),
        "arc/robots-only.warc.gz": (0, 0, []),
        **{f"html/{name}": (1, 1, []) for name in LEGACY_PAGES},
        "html/logo.png.html": (1, 0, ["invalid_encoding"]),
    }


CRAWL_SOURCES = (
    "ingest.sources=[{name: crawl, format: warc, path: crawl, glob: '*.warc*', check_digests: true},"
    " {name: wet, format: warc, path: wet}, {name: arc, format: warc, path: arc},"
    " {name: pages, format: text, path: html}]"
)
