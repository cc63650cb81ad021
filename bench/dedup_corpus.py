"""The dedup benchmarks' corpus: real prose with planted near-duplicates at known edit rates.

Documents are 2-8 docstring paragraphs of installed packages (real English that ships on the machine,
see curate_vs_datatrove.py), joined by blank lines. Docstrings repeat themselves across classes, so the
corpus also holds natural near-duplicates. A share of documents are planted copies of another document
with one kind of edit at one rate: adjacent word swaps, inserted words, deleted words, or boilerplate
(a header and footer) added. The same seed always gives the same corpus.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curate_vs_datatrove import paragraphs_from_docstrings  # noqa: E402

EDIT_KINDS = ("swap", "insert", "delete", "boilerplate")
EDIT_RATES = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
BOILERPLATE = [
    "Home | Docs | Blog | Contact us | Sign in to read more articles like this one",
    "Copyright 2026 Example Docs. All rights reserved. Terms of use and privacy policy apply.",
    "Share this page on social media and subscribe to our weekly newsletter for updates.",
]


@dataclass(frozen=True)
class Doc:
    doc_id: str
    text: str
    planted_from: str | None = None  # the doc this one is an edited copy of
    edit: str | None = None  # "<kind>@<rate>"


def edit_words(words: list[str], kind: str, rate: float, rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Apply `round(rate * len)` edits of one kind (at least one)."""
    out = list(words)
    edits = max(1, round(rate * len(words)))
    if kind == "boilerplate":
        header, footer = rng.sample(BOILERPLATE, 2)
        return header.split() + out + footer.split()
    for _ in range(edits):
        at = rng.randrange(len(out))
        if kind == "swap" and len(out) > 1:
            at = min(at, len(out) - 2)
            out[at], out[at + 1] = out[at + 1], out[at]
        elif kind == "insert":
            out.insert(at, rng.choice(vocabulary))
        elif kind == "delete" and len(out) > 1:
            del out[at]
    return out


def make_corpus(docs: int, seed: int = 11, planted_share: float = 0.2) -> list[Doc]:
    rng = random.Random(seed)
    paragraphs = paragraphs_from_docstrings()
    vocabulary = sorted({w for p in paragraphs[:500] for w in p.split()})
    originals = int(docs * (1 - planted_share))
    corpus = [Doc(f"d{n:07d}", "\n\n".join(rng.sample(paragraphs, rng.randint(2, 8)))) for n in range(originals)]
    for n in range(originals, docs):
        source = corpus[rng.randrange(originals)]
        kind, rate = rng.choice(EDIT_KINDS), rng.choice(EDIT_RATES)
        words = edit_words(source.text.split(" "), kind, rate, rng, vocabulary)
        corpus.append(Doc(f"d{n:07d}", " ".join(words), planted_from=source.doc_id, edit=f"{kind}@{rate}"))
    order = list(range(docs))
    rng.shuffle(order)  # planted copies are not next to their sources
    return [corpus[i] for i in order]


def write_parquet(corpus: list[Doc], folder: Path, files: int = 8) -> None:
    """`files` Parquet files with columns id, text (DataTrove and text-dedup read these as they are)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        part = corpus[i::files]
        table = pa.table({"id": [d.doc_id for d in part], "text": [d.text for d in part]})
        pq.write_table(table, folder / f"part-{i:02d}.parquet")
