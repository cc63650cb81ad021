import pyarrow as pa
from chispa import assert_df_equality

from refinery.transforms.decontamination import EvalNgrams, flag_contaminated
from refinery.transforms.rules import kept_rows, rejected_rows

PASSAGE = "Light from the Sun needs a little over eight minutes to reach the Earth, even at that speed."
QUESTION = "Which long river flows through ten countries before it finally reaches the Black Sea?"


def eval_ngrams(n=13):
    return EvalNgrams.from_texts(
        n, [("physics_qa", pa.array([PASSAGE, "too short to matter"])), ("geo", pa.array([QUESTION]))]
    )


def test_a_planted_eval_passage_is_flagged_and_a_near_miss_is_not(spark):
    words = PASSAGE.split()
    docs = spark.createDataFrame(
        [
            ("leak", "Some intro text. " + PASSAGE.upper() + " And more text after it."),  # case does not hide it
            (
                "geo",
                "Quiz: which long river flows through ten countries before it finally reaches the black sea? Answer:",
            ),
            ("twelve", " ".join(words[:12]) + " and then something else entirely."),  # only 12 shared words
            ("clean", "A recipe for bread needs flour, water, salt and a little patience."),
            ("short", "too short to matter"),
        ],
        "doc_id string, text string",
    )
    flagged = docs.transform(flag_contaminated, eval_ngrams())
    expected = spark.createDataFrame(
        [
            ("leak", "decontamination", "shares a 13-word n-gram with eval set physics_qa"),
            ("geo", "decontamination", "shares a 13-word n-gram with eval set geo"),
        ],
        "doc_id string, rule string, detail string",
    )
    assert_df_equality(
        rejected_rows(flagged).select("doc_id", "rule", "detail"), expected, ignore_row_order=True, ignore_nullable=True
    )
    assert sorted(r.doc_id for r in kept_rows(flagged).collect()) == ["clean", "short", "twelve"]


def test_eval_ngrams_skip_texts_shorter_than_n():
    ngrams = eval_ngrams()
    assert len(ngrams) == (len(PASSAGE.split()) - 12) + (len(QUESTION.split()) - 12)
    assert ngrams.matches(pa.array(["too short to matter", None])) == [None, None]
