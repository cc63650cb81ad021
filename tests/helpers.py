"""Small test helpers."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import MapType


def comparable(df: DataFrame) -> DataFrame:
    """Maps cannot be sorted or hashed by Spark: replace each map column by its sorted entries for chispa."""
    maps = [f.name for f in df.schema.fields if isinstance(f.dataType, MapType)]
    return df.withColumns({name: F.array_sort(F.map_entries(name)) for name in maps})


WORDS = [
    "river",
    "light",
    "garden",
    "market",
    "station",
    "winter",
    "harbour",
    "valley",
    "engine",
    "letter",
    "orchard",
    "bridge",
    "festival",
    "library",
    "museum",
    "forest",
    "island",
    "mountain",
    "kitchen",
    "village",
]


def silver_docs(spark, start: int, stop: int, *, hosts: int = 40) -> DataFrame:
    """Silver-shaped docs `doc-<i>` for i in [start, stop): varied English text, `hosts` url hosts,
    sources web (3 of 4) and forum, langs en and de. The same i always gives the same row."""
    from refinery.lake.schemas import load_schema

    words = F.array(*[F.lit(w) for w in WORDS])
    i = F.col("id")

    def word(k):
        return F.element_at(words, (F.pmod(F.xxhash64(i, F.lit(k)), F.lit(len(WORDS))) + 1).cast("int"))

    text = F.concat_ws(" ", F.lit("Document"), i.cast("string"), *[word(k) for k in range(40)], F.lit("."))
    df = spark.range(start, stop).select(
        F.format_string("doc-%06d", i).alias("doc_id"),
        text.alias("text"),
        F.when(i % 4 == 0, "forum").otherwise("web").alias("source"),
        F.format_string("https://host%d.example.com/p/%d", i % hosts, i).alias("url"),
        F.create_map().cast("map<string,string>").alias("meta"),
        F.lit("sample.jsonl").alias("_file"),
        i.alias("_line"),
        F.lit("2026-11-26 00:00:00").cast("timestamp").alias("_ingested_at"),
        F.lit("test").alias("_run_id"),
        F.when(i % 3 == 0, "de").otherwise("en").alias("lang"),
        F.lit(0.99).alias("lang_score"),
        F.lit(42).alias("n_words"),
        F.create_map().cast("map<string,int>").alias("pii"),
        F.sha2(text, 256).alias("content_hash"),
    )
    return load_schema("text/silver").conform(df)


def write_silver_dedup(spark, lake, df: DataFrame) -> None:
    """Replace `<lake>/silver_dedup/web_text` with `df` (a new table version), as dedup would."""
    df.write.format("delta").mode("overwrite").save(str(lake / "silver_dedup" / "web_text"))
