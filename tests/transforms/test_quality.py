from dataclasses import replace

import pytest
from chispa import assert_df_equality

from refinery.transforms.params import C4Params, FineWebParams, GopherQualityParams, GopherRepetitionParams
from refinery.transforms.quality import QualityFilters, flag_quality

SENTENCES = [
    "The city council approved a new budget for the public libraries on Tuesday evening.",
    "Fresh basil should be added at the very end so that its aroma survives the heat.",
    "Most hiking trails in the national park reopen in late spring once the snow has melted.",
    "Researchers measured the water temperature at twelve stations along the coastline.",
    "The museum extended its opening hours to accommodate the growing number of visitors.",
    "Compilers translate source code into machine instructions that a processor can execute.",
    "Local farmers reported a smaller harvest this year because of the unusually dry summer.",
    "The bridge was designed to withstand strong winds and the weight of heavy trucks.",
]
GOOD = " ".join(SENTENCES[:4]) + "\n\n" + " ".join(SENTENCES[4:])
LONG_FOUR = " ".join(s[:-1] + " and that is what the people of the town have said about it." for s in SENTENCES[:4])


def filters(**overrides) -> QualityFilters:
    configs = {
        "gopher_repetition": GopherRepetitionParams(),
        "gopher_quality": GopherQualityParams(),
        "c4": C4Params(),
        "fineweb": FineWebParams(),
    }
    for name, changes in overrides.items():
        configs[name] = replace(configs[name], **changes)
    return QualityFilters(**configs)


NO_REPETITION = {"gopher_repetition": {"enabled": False}}
C4_ONLY = {**NO_REPETITION, "gopher_quality": {"enabled": False}}
NO_STOP_WORDS = (
    " ".join(
        f"{subject} {verb} {adverb}"
        for subject in ("Cats", "Dogs", "Birds", "Horses")
        for verb in ("sleep", "run", "sing")
        for adverb in ("quietly", "daily", "outside")
    )
    + "."
)
CASES = [
    ("good", GOOD, {}, None),
    ("repeated lines", "\n".join([SENTENCES[0], SENTENCES[1]] * 4), {}, "gopher_repetition:dup_line_frac"),
    ("repeated paragraphs", "\n\n".join([GOOD, GOOD]), {}, "gopher_repetition:dup_para_frac"),
    ("top bigram", "buy now " * 40 + GOOD, {}, "gopher_repetition:top_2_gram"),
    ("one sentence", SENTENCES[0], {}, "gopher_repetition:top_3_gram"),
    ("too short", SENTENCES[0], NO_REPETITION, "gopher_quality:gopher_short_doc"),
    ("short words", "a b c d e f g h i j " * 8, NO_REPETITION, "gopher_quality:gopher_below_avg_threshold"),
    ("hashes", GOOD + " " + "#tag " * 20, NO_REPETITION, "gopher_quality:gopher_too_many_hashes"),
    ("bullets", "\n".join(f"- item {s}" for s in SENTENCES), NO_REPETITION, "gopher_quality:gopher_too_many_bullets"),
    (
        "ellipsis lines",
        "\n".join(s[:-1] + " ..." for s in SENTENCES),
        NO_REPETITION,
        "gopher_quality:gopher_too_many_end_ellipsis",
    ),
    (
        "numbers",
        GOOD + " " + " ".join(str(n) for n in range(100, 160)),
        NO_REPETITION,
        "gopher_quality:gopher_below_alpha_threshold",
    ),
    ("no stop words", NO_STOP_WORDS, NO_REPETITION, "gopher_quality:gopher_enough_stop_words"),
    ("lorem ipsum", GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", C4_ONLY, "c4:lorem_ipsum"),
    ("curly bracket", GOOD + "\nThe config reads {key: value} at start.", C4_ONLY, "c4:curly_bracket"),
    ("four sentences", LONG_FOUR, C4_ONLY, "c4:too_few_sentences"),
]


@pytest.mark.parametrize(("name", "text", "overrides", "rule"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_decides_with_a_reason(name, text, overrides, rule):
    verdict = filters(**overrides).check(text, "en")
    assert verdict.rule == rule, verdict.detail
    assert (verdict.detail is None) == (rule is None)


def test_c4_removes_lines_and_keeps_the_document():
    text = (
        GOOD
        + "\nPlease enable JavaScript to view this page.\nThis site uses cookies.\nMenu\nShare [edit] this page now."
    )
    verdict = filters().check(text, "en")
    assert verdict.rule is None
    assert verdict.text == "\n".join([" ".join(SENTENCES[:4]), " ".join(SENTENCES[4:]), "Share  this page now."])


def test_stop_words_follow_the_language():
    german = "Der Rat hat den Haushalt beschlossen und die Bibliothek ist mit dem Plan zufrieden. " * 1
    german += " ".join(f"Der Bericht {n} ist in der Stadt und auf dem Markt erschienen." for n in range(6))
    assert filters(**NO_REPETITION).check(german, "en").rule == "gopher_quality:gopher_enough_stop_words"
    by_language = filters(**NO_REPETITION, gopher_quality={"stop_words": {"de": ["der", "die", "und", "das", "ist"]}})
    assert by_language.check(german, "de").rule is None
    assert by_language.check(german, "fr").rule is None  # no list for the language: no check


FINEWEB_ONLY = {"gopher_repetition": {"enabled": False}, "gopher_quality": {"enabled": False}, "c4": {"enabled": False}}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("\n".join(f"line {n} has no end mark at all here" for n in range(10)), "fineweb:line_punct_ratio"),
        ("\n".join(f"Short {n}." for n in range(10)), "fineweb:short_line_ratio"),
        (GOOD + "\n" + SENTENCES[0] + "\n" + SENTENCES[0], "fineweb:char_dup_ratio"),
        ("\n".join(f"Reconfiguration{n} internationalization." for n in range(30)), "fineweb:list_ratio"),
        (GOOD, None),
    ],
)
def test_fineweb_rules(text, rule):
    assert filters(**FINEWEB_ONLY).check(text).rule == rule


def test_flag_quality_in_spark_keeps_earlier_flags(spark):
    df = spark.createDataFrame(
        [
            ("1", GOOD, "en", None, None),
            ("2", SENTENCES[0], "en", None, None),
            ("3", "x", "en", "language:low_score", "why"),
        ],
        "doc_id string, text string, lang string, _reject_rule string, _reject_detail string",
    )
    actual = flag_quality(df, filters()).select("doc_id", "text", "_reject_rule")
    expected = spark.createDataFrame(
        # C4 joins the lines it keeps with one newline (blank lines are dropped), as DataTrove does.
        [
            ("1", GOOD.replace("\n\n", "\n"), None),
            ("2", SENTENCES[0], "gopher_repetition:top_3_gram"),
            ("3", "x", "language:low_score"),
        ],
        "doc_id string, text string, _reject_rule string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
