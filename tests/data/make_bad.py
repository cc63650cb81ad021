"""Generate the bad-input corpus `tests/data/bad/` and its expected outcome (`EXPECTED.json`).

Every case must end in bronze or in rejects with a named rule, and the ingest run must exit 0.
Run `python tests/data/make_bad.py [DIR]`; the tests call `build(DIR)`.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
import sys
import zlib
from pathlib import Path

TINY_FILES = 2000
HUGE_DOC_CHARS = 20 * 1024 * 1024
WIDE_FIELDS = 100_000


def build(out: Path) -> dict:
    """Write the corpus into `out` (replacing it) and return the expected counts."""
    if out.exists():
        for path in sorted(out.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    bronze = 0
    rules: dict[str, int] = {}

    def expect(rule: str | None, n: int = 1) -> None:
        nonlocal bronze
        if rule is None:
            bronze += n
        else:
            rules[rule] = rules.get(rule, 0) + n

    good = json.dumps({"text": "A perfectly ordinary document with enough words in it."}) + "\n"

    (out / "empty.jsonl").write_bytes(b"")  # no records: Spark does not even list 0-byte files
    (out / "empty.jsonl.gz").write_bytes(b"")
    (out / "empty-content.jsonl.gz").write_bytes(gzip.compress(b""))  # valid gzip of nothing: no records

    # A compressed stream cut short: the lines before the cut land, the rest is one unreadable_file reject.
    numbered = "".join(json.dumps({"id": f"cut-{i}", "text": f"document {i} " * 20}) + "\n" for i in range(3000))
    cut = gzip.compress(numbered.encode())[:-4000]
    (out / "truncated.jsonl.gz").write_bytes(cut)
    expect(None, zlib.decompressobj(31).decompress(cut).count(b"\n"))
    expect("unreadable_file")
    (out / "not-really.jsonl.gz").write_bytes(b"this is not gzip data at all\n")
    expect("unreadable_file")
    (out / "truncated.jsonl.bz2").write_bytes(bz2.compress((good * 500).encode())[:-50])
    expect("unreadable_file")  # one bz2 block: nothing before the cut can be read

    # Hostile files: nesting no parser should recurse into, a decompression bomb, a line of 200 MB.
    deep = "[" * 100_000 + "]" * 100_000
    at_limit = '{"text": "nested as deep as allowed", "meta": ' + '{"a": ' * 498 + "1" + "}" * 499
    (out / "deep.jsonl").write_text("\n".join([deep, '{"text": ' * 100_000 + "}" * 100_000, at_limit]) + "\n")
    expect("too_deep", 2)
    expect(None)
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    (out / "bomb.jsonl.gz").write_bytes(
        bomb.compress(good.encode()) + b"".join(bomb.compress(bytes(1 << 20)) for _ in range(256)) + bomb.flush()
    )  # 256 MiB of zeros from about 250 KB: stopped at ingest.max_inflation, after its first line
    expect(None)
    expect("unreadable_file")
    with (out / "long-line.jsonl").open("wb") as long_line:
        long_line.write(b'{"text": "' + b"x" * (200 << 20) + b'"}\n' + good.encode())
    expect("record_too_large")
    expect(None)

    (out / "invalid-utf8.jsonl").write_bytes(good.encode() + b'{"text": "caf\xe9 latin-1 bytes"}\n' + good.encode())
    expect(None, 2)
    expect("invalid_utf8")

    nul_lines = [b'{"text": "raw NUL \x00 inside a string"}', b'{"text": "escaped NUL \\u0000 is valid JSON"}']
    (out / "nul-bytes.jsonl").write_bytes(b"\n".join(nul_lines) + b"\n")
    expect("malformed_json")
    expect(None)

    huge = json.dumps({"id": "huge", "text": "word " * (HUGE_DOC_CHARS // 5)})
    (out / "huge-doc.jsonl").write_text(huge + "\n" + good)
    expect("record_too_large")
    expect(None)

    wide = {"text": "one record with a hundred thousand fields"}
    wide.update({f"f{i}": i for i in range(WIDE_FIELDS)})
    (out / "wide.jsonl").write_text(json.dumps(wide) + "\n")
    expect("too_many_fields")

    (out / "binary-garbage.jsonl").write_bytes(
        bytes(rng.randrange(256) for _ in range(4096)).replace(b"\n", b"x").replace(b"\r", b"x")
    )
    expect("invalid_utf8")  # one line of random bytes is not UTF-8

    (out / "mixed-bad.jsonl").write_text(
        "\n".join(['{"text": "unterminated', "[1, 2, 3]", '{"text": 42}', '{"no_text": "x"}', "", good.strip()]) + "\n"
    )
    expect("malformed_json")
    expect("not_an_object")
    expect("wrong_type:text")
    expect("missing_field:text")
    expect("empty_line")
    expect(None)

    (out / "ragged.csv").write_text('id,text\n1,"fine, quoted"\n2,too,many,fields\n3\n4,"multi\nline"\n')
    expect(None, 2)
    expect("ragged_row", 2)

    tiny = out / "tiny"
    tiny.mkdir()
    for i in range(TINY_FILES):
        (tiny / f"t{i:05d}.jsonl").write_text(json.dumps({"id": f"tiny-{i}", "text": f"tiny file number {i}"}) + "\n")
    expect(None, TINY_FILES)

    expected = {"bronze": bronze, "rejected": dict(sorted(rules.items()))}
    (out / "EXPECTED.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "bad"
    print(json.dumps(build(target)))
