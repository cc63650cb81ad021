from chispa import assert_df_equality

from refinery.transforms.html import extract_main_text
from refinery.transforms.language import add_language, detect, flag_languages


def test_language_id_works_offline_with_the_packaged_model():
    assert detect("The city council approved a new budget for public libraries on Tuesday evening.")[0] == "en"
    assert detect("Der Stadtrat hat am Dienstagabend einen neuen Haushalt beschlossen.")[0] == "de"
    lang, score = detect("La receta lleva dos tazas de harina, una pizca de sal y una cucharada de miel.")
    assert lang == "es" and 0.65 < score <= 1.0
    assert detect("   ") == ("und", 0.0)


def test_languages_outside_the_kept_set_or_below_the_score_are_flagged(spark):
    df = spark.createDataFrame(
        [
            ("1", "The museum extended its opening hours to accommodate the growing number of visitors."),
            ("2", "Le musée a prolongé ses horaires d'ouverture pour accueillir davantage de visiteurs."),
            ("3", "404"),
        ],
        "doc_id string, text string",
    )
    flagged = flag_languages(add_language(df), keep=["en", "de"], min_score=0.65)
    actual = flagged.select("doc_id", "lang", "_reject_rule")
    rows = {r.doc_id: r for r in actual.collect()}
    assert (rows["1"].lang, rows["1"]._reject_rule) == ("en", None)
    assert (rows["2"].lang, rows["2"]._reject_rule) == ("fr", "language:not_kept")
    assert rows["3"]._reject_rule == "language:low_score"


def test_html_pages_become_their_main_text(spark):
    page = (
        "<html><head><title>T</title><script>var tracking = 1;</script></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>"
        "<article><h1>Data pipelines</h1><p>Spark processes large amounts of text in parallel.</p>"
        "<p>Delta tables keep every version of the data.</p></article>"
        "<footer>Copyright 2026 Example Inc.</footer></body></html>"
    )
    df = spark.createDataFrame(
        [
            ("1", page, {"content_type": "text/html"}),
            ("2", "<!DOCTYPE html><html><body><nav>Home</nav></body></html>", {}),
            ("3", "Plain <b>text</b> stays as it is.", {}),
        ],
        "doc_id string, text string, meta map<string,string>",
    )
    rows = {r.doc_id: r for r in extract_main_text(df).collect()}
    assert "Spark processes large amounts of text in parallel." in rows["1"].text
    assert "Delta tables keep every version" in rows["1"].text
    assert "tracking" not in rows["1"].text and "Home" not in rows["1"].text
    assert rows["1"]._reject_rule is None
    assert rows["2"]._reject_rule == "html:no_text"
    assert (rows["3"].text, rows["3"]._reject_rule) == ("Plain <b>text</b> stays as it is.", None)


def test_html_detection_needs_a_declaration_or_a_page(spark):
    df = spark.createDataFrame(
        [("1", "<p>just a fragment</p>", None)], "doc_id string, text string, meta map<string,string>"
    )
    expected = spark.createDataFrame(
        [("1", "<p>just a fragment</p>", None)], "doc_id string, text string, _reject_rule string"
    )
    assert_df_equality(extract_main_text(df).select("doc_id", "text", "_reject_rule"), expected, ignore_nullable=True)
