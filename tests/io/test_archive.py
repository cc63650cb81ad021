"""WARC, WET and ARC framing without Spark: one bad record is one reject, every record around it is kept."""

import random
from io import BytesIO

import pytest

from refinery.io.archive import frame_records
from refinery.io.warc import WarcOptions, read_warc
from tests.web_archives import arc_records, crawl_records, cut_short, members, pages, warc_record, wet_records


def framed(data: bytes, name: str):
    return list(frame_records(BytesIO(data), name, max_record_bytes=1 << 20, cap=1 << 40))


def rows(tmp_path, name: str, data: bytes, **options):
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_warc(str(path), WarcOptions(**options)))


def documents(found) -> list[str]:
    return [row.url for row in found if row.rule is None]


def rejected(found) -> list[tuple[str, str]]:
    return [(row.rule, row.detail) for row in found if row.rule]


def test_wet_conversion_and_resource_records_are_documents(tmp_path):
    wet = wet_records([("https://a.example/1", "Plain text of a page.", "eng"), ("https://b.example/", "Text.", "deu")])
    resource = warc_record("resource", b"<p>stored as it is</p>", "file:///doc.html", Content_Type="text/html")
    found = rows(tmp_path, "crawl.warc.wet.gz", members([*wet, resource]))
    assert documents(found) == ["https://a.example/1", "https://b.example/", "file:///doc.html"]
    first = found[0]
    assert (first.record_type, first.payload, first.language, first.content_type) == (
        "conversion",
        "Plain text of a page.",
        "eng",
        "text/plain",
    )
    assert found[2].record_type == "resource" and found[2].payload == "<p>stored as it is</p>"


def test_only_responses_of_a_crawl_warc_are_documents(tmp_path):
    found = rows(tmp_path, "crawl.warc.gz", members(crawl_records(pages(3))))
    assert documents(found) == [f"https://news.example.org/{i}" for i in range(3)]
    assert {row.record_type for row in found} == {"response"} and not rejected(found)


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_record_short_of_its_length_is_one_reject_between_kept_records(tmp_path, gzipped):
    records = crawl_records(pages(30))
    bad = 3 * 14 + 2  # the 15th page's response
    records[bad] = cut_short(records[bad], 12)
    data = members(records) if gzipped else b"".join(records)
    found = rows(tmp_path, "crawl.warc.gz" if gzipped else "crawl.warc", data)
    assert documents(found) == [f"https://news.example.org/{i}" for i in range(30) if i != 14]
    ((rule, detail),) = rejected(found)
    assert rule == "truncated_record" and "short of its length" in detail


def test_an_arc_record_12_bytes_short_loses_only_itself(tmp_path):
    records = arc_records([(f"http://old.example.com/{i}", f"<p>page {i}</p>".encode()) for i in range(6)])
    records[3] = cut_short(records[3], 12, "arc")
    for name, data in (("crawl.arc", b"".join(records)), ("crawl.arc.gz", members(records))):
        found = rows(tmp_path, name, data)
        assert documents(found) == [f"http://old.example.com/{i}" for i in (0, 1, 3, 4, 5)], name
        assert [rule for rule, _ in rejected(found)] == ["truncated_record"], name


def test_a_gzip_member_that_does_not_inflate_and_a_file_cut_off(tmp_path):
    records = crawl_records(pages(5))
    parts = [members([record]) for record in records]
    broken = bytearray(parts[5])  # the second page's response
    broken[30:40] = b"\x00" * 10
    data = b"".join([*parts[:5], bytes(broken), *parts[6:]])
    found = rows(tmp_path, "crawl.warc.gz", data[:-40])  # and the last member cut off
    assert documents(found) == [f"https://news.example.org/{i}" for i in (0, 2, 3, 4)]
    rules = [rule for rule, _ in rejected(found)]
    assert rules == ["corrupt_record", "truncated_record"]  # the last page's response is whole; its metadata cut


def test_digests_are_checked_only_when_asked(tmp_path):
    records = crawl_records(pages(4))
    records[5] = records[5].replace(b"</p>", b"</P>")  # the payload no longer matches its digest
    data = members(records)
    assert len(documents(rows(tmp_path, "crawl.warc.gz", data))) == 4
    found = rows(tmp_path, "crawl.warc.gz", data, check_digests=True)
    assert len(documents(found)) == 3
    assert rejected(found) == [("digest_mismatch", "WARC-Block-Digest sha1 does not match the record's bytes")]


def test_garbage_between_records_is_one_reject(tmp_path):
    records = crawl_records(pages(3))
    plain = b"".join(records[:4]) + b"\x00\x01 not a record \n" + b"".join(records[4:])
    found = rows(tmp_path, "crawl.warc", plain)
    assert len(documents(found)) == 3 and [rule for rule, _ in rejected(found)] == ["malformed_record"]
    gzipped = members(records[:4]) + b"junk bytes" + members(records[4:])
    found = rows(tmp_path, "crawl.warc.gz", gzipped)
    assert len(documents(found)) == 3 and [rule for rule, _ in rejected(found)] == ["corrupt_record"]


def test_a_record_longer_than_the_limit_is_passed_over(tmp_path):
    big = pages(1)[0][1] * 200
    records = crawl_records([*pages(2), ("https://news.example.org/big", big, "text/html")])
    data = b"".join(records)
    found = list(frame_records(BytesIO(data), "crawl.warc", max_record_bytes=len(big) // 2, cap=1 << 40))
    assert [record.rule for record in found if record.rule] == ["record_too_large"]
    assert sum(1 for record in found if not record.rule) == len(records) - 1


def test_random_damage_never_costs_an_intact_record():
    """Flip, cut, insert or delete bytes at random in WARC and ARC files, plain and gzipped: every record whose
    bytes are untouched is read back, none twice, and nothing raises."""
    generator = random.Random(7)
    for trial in range(240):
        arc = trial % 4 >= 2
        if arc:
            bodies = [b"<p>x</p>" * generator.randint(1, 300) for _ in range(20)]
            records = arc_records([(f"http://a.example/{i}", body) for i, body in enumerate(bodies)])
        else:
            records = crawl_records(pages(7))
        gzipped = trial % 2 == 0
        parts = [members([record]) for record in records] if gzipped else records
        data = bytearray(b"".join(parts))
        starts = [sum(len(part) for part in parts[:i]) for i in range(len(parts))]
        at = generator.randrange(len(data))
        op = generator.choice(["flip", "cut", "insert", "delete"])
        width = {"flip": 1, "cut": 0, "insert": 0, "delete": generator.randint(1, 40)}[op]
        if op == "flip":
            data[at] ^= 0xFF
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = b"junk\n" * generator.randint(1, 3)
        else:
            del data[at : at + width]
        touched = {i for i, start in enumerate(starts) if start <= at + width and start + len(parts[i]) > at - 1}
        if op == "cut":
            touched |= {i for i, start in enumerate(starts) if start >= at}
        name = ("crawl.arc" if arc else "crawl.warc") + (".gz" if gzipped else "")
        found = framed(bytes(data), name)
        read = [record.as_bytes() for record in found if not record.rule]
        intact = [records[i] for i in range(len(records)) if i not in touched]
        kept = [record for record in read if record in records]
        assert all(record in read for record in intact), (trial, op, at, [(r.offset, r.rule) for r in found])
        assert len(kept) == len(set(kept)), (trial, op, at)
