"""Parity with DataTrove's filter tests: for each behaviour their suite checks (a reason per filter, empty
documents, text kept, lines removed), our own input and the reason DataTrove's filter of the same name
gives it. Reasons are DataTrove's names behind our `<filter>:` prefix. Cases the issue found untested
(Gopher long_doc, above_avg_threshold, too_many_ellipsis, dup_para_char_frac, dup_line_char_frac,
duplicated_n_grams; FineWeb list_ratio) are here too."""

from __future__ import annotations

import pytest

from tests.transforms.test_quality import C4_ONLY, FINEWEB_ONLY, GOOD, NO_REPETITION, filters

SHORT_LINES = ["Tea is warm.", "Rain fell.", "Birds sang.", "We ate.", "Night came."]
LONG_LINE = "The committee published a long report on the regional water supply and its many problems."
PHRASE = "every morning the old lighthouse keeper climbed ninety seven stairs "
WITH_ELLIPSES = " ".join(word + (" ..." if i % 5 == 4 else "") for i, word in enumerate(GOOD.split(" ")))
PROSE_LINES = "\n".join(
    f"Paragraph {n} explains, in a complete sentence, how the {topic} was measured and why it matters."
    for n, topic in enumerate(("rainfall", "traffic", "harvest", "turnout", "noise", "demand"))
)

CASES = [
    # Gopher repetition: each duplication measure, and n-gram concentration
    ("repeated line", "\n".join(["We went to the market at dawn."] * 4), {}, "gopher_repetition:dup_line_frac"),
    ("repeated paragraph", "\n\n".join(["We went to the market at dawn."] * 4), {}, "gopher_repetition:dup_para_frac"),
    ("long repeated line", "\n".join([*SHORT_LINES, LONG_LINE, LONG_LINE]), {}, "gopher_repetition:dup_line_char_frac"),
    (
        "long repeated paragraph",
        "\n\n".join([*SHORT_LINES, LONG_LINE, LONG_LINE]),
        {},
        "gopher_repetition:dup_para_char_frac",
    ),
    ("one bigram over and over", "you win, you win, you win, you win", {}, "gopher_repetition:top_2_gram"),
    ("a repeated 10-word phrase", PHRASE * 4 + GOOD, {}, "gopher_repetition:duplicated_5_n_grams"),
    # Gopher quality: length, word length, symbols, alphabetic words
    ("a few words", "Far too short to keep...", NO_REPETITION, "gopher_quality:gopher_short_doc"),
    (
        "more words than allowed",
        GOOD,
        {**NO_REPETITION, "gopher_quality": {"max_doc_words": 60}},
        "gopher_quality:gopher_long_doc",
    ),
    ("two-letter words", "we go up to it " * 20, NO_REPETITION, "gopher_quality:gopher_below_avg_threshold"),
    ("very long words", "Internationalization " * 60, NO_REPETITION, "gopher_quality:gopher_above_avg_threshold"),
    ("hash tags", "#news update " * 30, NO_REPETITION, "gopher_quality:gopher_too_many_hashes"),
    ("ellipses inside lines", WITH_ELLIPSES, NO_REPETITION, "gopher_quality:gopher_too_many_ellipsis"),
    (
        "mostly symbols",
        "the <> ./ ?? apple ++ ** orange !! ~~ have " * 20,
        NO_REPETITION,
        "gopher_quality:gopher_below_alpha_threshold",
    ),
    # C4: document drops
    ("lorem ipsum", GOOD + "\nLorem ipsum is the filler this page forgot to replace.", C4_ONLY, "c4:lorem_ipsum"),
    ("a curly bracket", GOOD + "\nThe template printed {name} instead of a name.", C4_ONLY, "c4:curly_bracket"),
    ("one sentence", "This page holds a single sentence.", C4_ONLY, "c4:too_few_sentences"),
    # FineWeb: punctuation, short lines, duplicated characters, newlines per word
    (
        "no end punctuation",
        "\n".join(f"row {n} of a table without marks" for n in range(8)),
        FINEWEB_ONLY,
        "fineweb:line_punct_ratio",
    ),
    ("short lines", "Yes.\nNo.\nMaybe.\nLater.\nSoon.", FINEWEB_ONLY, "fineweb:short_line_ratio"),
    (
        "a list of long words",
        "\n".join(f"Reconfiguration{n} internationalization." for n in range(30)),
        FINEWEB_ONLY,
        "fineweb:list_ratio",
    ),
    # kept
    ("good prose", GOOD, {}, None),
    ("good prose, fineweb", PROSE_LINES, FINEWEB_ONLY, None),
]


@pytest.mark.parametrize(("name", "text", "overrides", "rule"), CASES, ids=[c[0] for c in CASES])
def test_same_reason_as_datatrove(name, text, overrides, rule):
    verdict = filters(**overrides).check(text, "en")
    assert verdict.rule == rule, verdict.detail
    assert (verdict.detail is None) == (rule is None)


@pytest.mark.parametrize("text", ["", "   \n \n\t"])
def test_an_empty_document_is_dropped_not_an_error(text):
    # DataTrove's filters once divided by zero here; each of ours drops the doc with a reason.
    for overrides in ({}, NO_REPETITION, C4_ONLY, FINEWEB_ONLY):
        assert filters(**overrides).check(text, "en").rule == "quality:empty"


def test_c4_removes_policy_lines_without_dropping_the_document():
    text = GOOD + "\nWe use cookies to improve your experience on this site."
    verdict = filters(**C4_ONLY).check(text, "en")
    assert verdict.rule is None and "cookies" not in verdict.text and verdict.text.startswith(GOOD.split("\n")[0])
