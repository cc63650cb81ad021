"""The scale benchmark's raw lake: N web documents made from real text on this machine, at known rates.

English documents are prose paragraphs of installed packages' docstrings (curate_vs_datatrove.py) and of
the Python reference shipped with the interpreter (`pydoc_data.topics`), code-like paragraphs left out. Other
languages are translated program messages from the gettext catalogs under /usr/share/locale (coreutils,
apt, git, ...: real sentences in dozens of languages, shipped with the OS). Planted, at the rates of
`RATES`: exact and near duplicates of earlier documents, HTML pages, e-mail addresses and phone numbers,
low-quality pages (repetition, short list lines) and malformed lines (truncated JSON, wrong types, blank
lines). Files are JSONL, half of them gzip-compressed. The same seed and machine give the same files;
`MANIFEST.json` lists what was planted, per kind, and each file's SHA-256.

    .venv/bin/python bench/corpus.py --docs 100000 --out /tmp/corpus-100k
"""

from __future__ import annotations

import argparse
import gettext
import gzip
import hashlib
import json
import random
import re
import sys
from collections import Counter, deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curate_vs_datatrove import paragraphs_from_docstrings  # noqa: E402
from dedup_corpus import EDIT_KINDS, edit_words  # noqa: E402

# Share of documents of each planted kind; the rest are clean English documents.
RATES = {
    "other_language": 0.15,
    "html": 0.05,
    "exact_duplicate": 0.03,
    "near_duplicate": 0.07,
    "pii": 0.04,
    "low_quality": 0.05,
    "malformed": 0.005,
}
LANGUAGES = ("de", "fr", "es", "it", "nl", "pt_BR", "pl", "sv", "ru", "ja")  # catalogs under /usr/share/locale
NEAR_EDIT_RATES = (0.01, 0.02, 0.03, 0.05)  # near copies stay above the 0.8 Jaccard threshold, mostly
RECENT = 20_000  # duplicates copy one of the last RECENT documents (memory stays flat in N)
HOSTS = 500
CODE_CHARACTERS = frozenset("`{}[]=<>|#\\")
MALFORMED = (
    lambda doc: json.dumps(doc)[: len(json.dumps(doc)) // 2],  # truncated line
    lambda doc: json.dumps([doc["id"], doc["text"]]),  # not an object
    lambda doc: json.dumps({**doc, "text": 12345}),  # wrong type
    lambda doc: json.dumps({k: v for k, v in doc.items() if k != "text"}),  # no text
    lambda _doc: "",  # blank line
)


def english_paragraphs() -> list[str]:
    """Prose paragraphs (no code-like characters, nearly all words alphabetic) of docstrings and Python's reference."""
    from pydoc_data.topics import topics

    reference = [
        " ".join(block.split())
        for topic in topics.values()
        for block in re.split(r"\n\s*\n", topic)
        if not block.startswith((" ", "\t"))  # indented blocks are code
    ]
    candidates = sorted(set(paragraphs_from_docstrings()) | set(reference))
    return [p for p in candidates if _is_prose(p)]


def _is_prose(paragraph: str) -> bool:
    words = paragraph.split()
    return (
        len(words) >= 10
        and paragraph[0].isupper()
        and paragraph.endswith(".")
        and not CODE_CHARACTERS.intersection(paragraph)
        and sum(any(c.isalpha() for c in word) for word in words) >= 0.9 * len(words)
    )


def catalog_sentences(language: str) -> list[str]:
    """Translated messages of one language: whole sentences, placeholders and markup removed."""
    found: set[str] = set()
    for path in sorted(Path("/usr/share/locale", language, "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as file:
                catalog = gettext.GNUTranslations(file)._catalog
        except (OSError, ValueError, UnicodeDecodeError):  # a catalog in another encoding or damaged
            continue
        for text in catalog.values():
            if not isinstance(text, str) or "%" in text or "{" in text or "<" in text or "\\" in text:
                continue
            sentence = " ".join(text.split())
            if 40 <= len(sentence) <= 400 and sentence[-1] in ".!?。" and not sentence.startswith(("-", "*")):
                found.add(sentence)
    return sorted(found)


class Writer:
    """Documents to `files` JSONL files in turn, the odd-numbered ones gzip-compressed."""

    def __init__(self, folder: Path, files: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = [folder / f"web-{i:03d}.jsonl{'.gz' if i % 2 else ''}" for i in range(files)]
        # Open until close(): the files are written in turn.
        self.outs = [_open(path, compressed=bool(i % 2)) for i, path in enumerate(self.paths)]
        self.lines = 0

    def write(self, line: str) -> None:
        self.outs[self.lines % len(self.outs)].write(line + "\n")
        self.lines += 1

    def close(self) -> dict[str, str]:
        for out in self.outs:
            out.close()
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in self.paths}


def _open(path: Path, *, compressed: bool):
    if compressed:
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=5)  # noqa: SIM115 - Writer.close() closes it
    return path.open("w", encoding="utf-8")  # noqa: SIM115 - Writer.close() closes it


def html_page(title: str, paragraphs: list[str], rng: random.Random) -> str:
    nav = "".join(f'<li><a href="/s/{rng.randrange(99)}">Section {rng.randrange(99)}</a></li>' for _ in range(6))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><script>var t = {rng.randrange(10**6)};</script>"
        f"</head><body><nav><ul>{nav}</ul></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright 2026. All rights reserved. Privacy policy. Terms of use.</footer></body></html>"
    )


def pii_sentence(rng: random.Random) -> str:
    name = rng.choice(("anna", "jonas", "maria", "li", "omar", "sofia", "kwame", "ines"))
    email = f"{name}.{rng.randrange(10**5)}@mail{rng.randrange(1000)}.example.com"
    phone = f"+1 {rng.randrange(200, 999)}-{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
    return f"For questions, write to {email} or call {phone} during office hours."


def make_corpus(docs: int, out: Path, *, files: int = 16, seed: int = 2026) -> dict:
    """Write `docs` lines into `files` files under `out`; return the manifest (also written to MANIFEST.json)."""
    rng = random.Random(seed)
    english = english_paragraphs()
    vocabulary = sorted({w for p in english[:500] for w in p.split()})
    others = {lang: sentences for lang in LANGUAGES if len(sentences := catalog_sentences(lang)) >= 200}
    kinds, weights = list(RATES), list(RATES.values())
    weights_clean = 1 - sum(weights)
    recent: deque[str] = deque(maxlen=RECENT)
    planted: Counter[str] = Counter()
    writer = Writer(out, files)
    for n in range(docs):
        kind = rng.choices([*kinds, "clean"], [*weights, weights_clean])[0]
        if kind in ("exact_duplicate", "near_duplicate") and not recent:
            kind = "clean"
        if kind == "other_language" and not others:
            kind = "clean"
        if kind == "exact_duplicate":
            text = rng.choice(recent)
        elif kind == "near_duplicate":
            words = rng.choice(recent).split(" ")
            text = " ".join(edit_words(words, rng.choice(EDIT_KINDS[:3]), rng.choice(NEAR_EDIT_RATES), rng, vocabulary))
        elif kind == "other_language":
            lang = rng.choice(sorted(others))
            planted[f"lang:{lang}"] += 1
            sentences = others[lang]
            text = "\n\n".join(" ".join(rng.sample(sentences, rng.randint(3, 6))) for _ in range(rng.randint(2, 5)))
        elif kind == "html":
            chosen = rng.sample(english, rng.randint(2, 6))
            text = html_page(chosen[0].split(".")[0][:60], chosen, rng)
        elif kind == "low_quality":
            chosen = rng.sample(english, rng.randint(1, 4))
            if rng.random() < 0.5:
                text = "\n".join(chosen[:2] * rng.randint(3, 6))  # the same paragraphs again and again
            else:
                text = "\n".join(" ".join(p.split()[: rng.randint(2, 5)]) for p in chosen for _ in range(5))
        else:
            paragraphs = rng.sample(english, rng.randint(3, 8))
            if kind == "pii":
                paragraphs.insert(rng.randrange(len(paragraphs) + 1), pii_sentence(rng))
            text = "\n\n".join(paragraphs)
        planted[kind] += 1
        doc = {"id": f"b{n:08d}", "text": text, "url": f"https://site{rng.randrange(HOSTS)}.example.com/p/{n}"}
        if kind == "malformed":
            writer.write(rng.choice(MALFORMED)(doc))
            continue
        if kind != "exact_duplicate":
            recent.append(text)
        writer.write(json.dumps(doc, ensure_ascii=False))
    digests = writer.close()
    manifest = {
        "docs": docs,
        "seed": seed,
        "rates": RATES,
        "planted": dict(sorted(planted.items())),
        "english_paragraphs": len(english),
        "languages": {lang: len(sentences) for lang, sentences in sorted(others.items())},
        "bytes": sum((out / name).stat().st_size for name in digests),
        "files": digests,
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    manifest = make_corpus(args.docs, args.out, files=args.files, seed=args.seed)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=2))


if __name__ == "__main__":
    main()
