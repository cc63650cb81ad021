"""The compiled quality filters against their Python reference: the same verdict, rule, detail and text after
C4's line removal for every one of 30,000 generated documents, under several settings.

The documents are built from the pieces the tokenizer, the line rules and the repetition measures treat
specially (prefixes, suffixes, abbreviations, contractions, URLs, hyphens, citations, C4's phrases, bullets,
ellipses, Unicode spaces, digits and letters of other scripts, line breaks `splitlines` knows and `split`
does not), in prose, lists, repeated lines, paragraphs and n-grams; tests/stages cover the bench's kinds of
page (HTML, other languages) through the stage.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from refinery.transforms.kernels.charclass import flags
from refinery.transforms.kernels.lines import count_sentences
from refinery.transforms.kernels.quality import QualityKernel
from refinery.transforms.kernels.words import split_words
from refinery.transforms.quality import _count_sentences, words_of
from tests.transforms.test_quality import SENTENCES, filters

WORDS = [
    "the", "be", "to", "of", "and", "that", "have", "with", "a", "it", "is", "was", "for", "on", "are", "as", "his",
    "they", "at", "one", "this", "from", "by", "hot", "word", "but", "what", "some", "we", "can", "out", "other",
    "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do", "their",
    "time", "if", "will", "way",
]  # fmt: skip
PIECES = [
    "U.S.", "e.g.", "F.", "U.S.A", "A.B", "(word", "word)", '"quoted"', "“curly”", "‘single’", "don't", "it’s",
    "IT'S", "it'ſ", "can't", "WON’T", "they're", "we've", "you'll", "I'd", "I'm", "n't", "'s", "rock-n-roll",
    "a--b", "--", "-", "-x", "x-", "...", "…", "word...", "....", "..x", "pandas.Series", "a.B.c", "http://x.y/z.",
    "https://a.b/c?d=e,", "www.example.com,", "ftp://files", "https:", "#tag", "##", "§5", "¿Qué", "¡Hola!", "50%",
    "x_y", "_init_", "[1]", "[edit]", "[citation needed]", "[]", "[12a]", "[١٢]", "{x}", "}", "•", "K", "İstanbul",
    "JavaScript", "Lorem", "Ipsum", "lorem ipsum", "Privacy Policy", "COOKIE POLICY", "terms of use",
    "uses cookies", "use of cookies", "1990", "３", "٣", "½", "²", "漢字。", "これは", "😀", "Ǆ", "e\u0301",
    "a\u200db", "word,", "word.", "word;", "word:", "word!", "word?", "ab.", "a.", "Mr.", "Dr.", "etc.", "A.", "?!",
    "!!!", "word?!", "'", '"', "(", ")", "<b>", "*", "~", "£3", "€5", "$9", "ok.'", "end.\"", "x" * 60, "y" * 1200,
    "mid-sentence.Next", "lower.Upper", "sentence.Another", "word?Next", "x.", "·", "。", "！", "؟", "۔",
]  # fmt: skip
SPACES = [" "] * 30 + ["  ", "\t", "\xa0", "\u3000", "\u2009", " \t "]
BREAKS = ["\n"] * 12 + ["\n\n"] * 4 + ["\n\n\n", " \n ", "\n \n"]
OTHER_BREAKS = ["\r\n", "\u2028", "\x0c", "\x85", "\r"]  # `splitlines` breaks there: the reference judges
ENDINGS = [".", ".", ".", "!", "?", "", "", "...", "…", ":", '."', ".'", " [1].", " [edit]", ";"]


def _line(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(SENTENCES)
    words = []
    for _ in range(rng.choice([1, 2, 3, 4, 6, 9, 14, 20])):
        piece = rng.choice(PIECES) if rng.random() < 0.3 else rng.choice(WORDS)
        words += [piece, rng.choice(SPACES)]
    line = "".join(words[:-1]) + rng.choice(ENDINGS)
    return rng.choice(["• ", "- ", "  ", "#", ""]) + line if rng.random() < 0.2 else line


def document(rng: random.Random) -> str | None:
    """A generated document: prose, a list, repeated lines or paragraphs, a repeated phrase, or nearly nothing."""
    kind = rng.random()
    if kind < 0.02:
        return rng.choice([None, "", " ", "\n\n", "\t \u3000", "...", "•"])
    lines = [_line(rng) for _ in range(rng.choice([1, 2, 3, 5, 8, 12, 20]))]
    if kind < 0.2:  # repeated lines or paragraphs
        lines += rng.choices(lines, k=rng.randint(1, len(lines) + 2))
        rng.shuffle(lines)
    elif kind < 0.3:  # a phrase over and over
        phrase = " ".join(rng.choices(WORDS, k=rng.randint(2, 11)))
        lines.insert(rng.randrange(len(lines) + 1), " ".join([phrase] * rng.randint(2, 8)))
    text = lines[0]
    for line in lines[1:]:
        text += rng.choice(OTHER_BREAKS if rng.random() < 0.005 else BREAKS) + line
    if rng.random() < 0.1:
        text = rng.choice(["\n", " ", "\n\n "]) + text + rng.choice(["\n", " \n", "\n\n"])
    return text


SETTINGS = {
    "defaults": {},
    "loose": {
        "gopher_quality": {"min_doc_words": 3, "min_alpha_words_ratio": 0.3, "min_avg_word_length": 0},
        "c4": {"min_num_sentences": 1, "min_words_per_line": 1, "max_word_length": 50},
        "fineweb": {"line_punct_exclude_zero": True},
    },
    "no gopher, no citations, no terminal punctuation": {
        "gopher_repetition": {"enabled": False},
        "gopher_quality": {"enabled": False},
        "c4": {"remove_citations": False, "filter_no_terminal_punct": False, "min_num_sentences": 0},
    },
    "only gopher repetition and fineweb": {
        "gopher_quality": {"enabled": False},
        "c4": {"enabled": False},
        "gopher_repetition": {"dup_line_frac": 0, "top_n_grams": {1: 0.5, 3: 0.1}, "dup_n_grams": {2: 0.2, 7: 0.1}},
    },
}
STOP_WORDS = {"en": ["the", "be", "to", "of", "and", "that", "have", "with"], "fr": ["le", "de", "it’s"], "xx": []}


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_kernel_gives_the_references_verdict_for_every_document(setting):
    rng = random.Random(f"quality-kernel {setting}")
    overrides = dict(SETTINGS[setting])
    overrides["gopher_quality"] = {**overrides.get("gopher_quality", {}), "stop_words": STOP_WORDS}
    reference = filters(**overrides)
    texts = [document(rng) for _ in range(7_500)]
    langs = rng.choices(["en", "fr", "xx", "de", None], k=len(texts))
    expected = [reference.check(text, lang) for text, lang in zip(texts, langs, strict=True)]
    got = QualityKernel(reference).check_batch(texts, langs)
    differ = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert not differ, [(texts[i], got[i], expected[i]) for i in differ[:3]]
    rules = {verdict.rule for verdict in expected}
    assert len(rules) >= 8, rules  # the documents reach many rules, not just one


def test_a_line_break_other_than_newline_sends_the_document_to_the_reference():
    reference = filters()
    kernel = QualityKernel(reference)
    texts = ["One line.\u2028Another line.\rA third.", " ".join(SENTENCES)]
    assert kernel.check_batch(texts, ["en", "en"]) == [reference.check(t, "en") for t in texts]
    assert kernel.fallbacks == 1


def compiled_words(text: str) -> list[str]:
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends, stack = (np.zeros(points.size + 2, np.int64) for _ in range(3))
    n = split_words(points, 0, points.size, flags(), starts, ends, stack)
    return [text[a:b] for a, b in zip(starts[:n].tolist(), ends[:n].tolist(), strict=True)]


def test_the_compiled_tokenizer_cuts_the_same_words():
    rng = random.Random("quality-kernel words")
    texts = [*PIECES, *(f"{a}{b}" for a in PIECES for b in ("", ",", ".", "...", ")", "'s", "n't", "-x"))]
    texts += [document(rng) or "" for _ in range(3_000)]
    differ = [text for text in texts if compiled_words(text) != words_of(text)]
    assert not differ, [(text, compiled_words(text), words_of(text)) for text in differ[:3]]


def test_the_compiled_sentence_count_is_the_references():
    rng = random.Random("quality-kernel sentences")
    lines = [_line(rng) for _ in range(5_000)] + [
        "A. Smith met F. Dubois.",
        "pandas.Series works. So does x.Y!",
        "Wait...",
    ]
    for line in lines:
        points = np.frombuffer(line.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        assert count_sentences(points, 0, points.size, flags()) == _count_sentences(line), line
