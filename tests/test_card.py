"""The dataset card: files exist and every number in card.md equals the tables'."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import functions as F

from refinery.cli import main
from tests.conftest import RELEASE_SETTINGS


def card_tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables of card.md by their header's first column name (later tables of a name are appended)."""
    tables: dict[str, list[list[str]]] = {}
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.MULTILINE):
        lines = block.strip().splitlines()
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
        tables.setdefault(header[0], []).extend(rows)
    return tables


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


@pytest.fixture(scope="module")
def card(released_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("card")
    assert main(["card", "--release", "r2", "--out", str(out), "--lake", str(released_lake), *RELEASE_SETTINGS]) == 0
    return out


def test_card_files_exist(card):
    for name in ("card.md", "composition.png", "lengths.png", "rejects.png", "representativeness.png"):
        assert (card / name).stat().st_size > 1_000, name


def test_composition_numbers_equal_the_release(spark, released_lake, card):
    tables = card_tables((card / "card.md").read_text())
    release = spark.read.format("delta").load(str(released_lake / "releases" / "web_text" / "r2"))
    for by in ("split", "lang", "source"):
        expected = {
            r[by]: (r["docs"], r["tokens"])
            for r in release.groupBy(by).agg(F.count("*").alias("docs"), F.sum("n_tokens").alias("tokens")).collect()
        }
        composition = [row for row in tables[by] if len(row) == 3]  # the lang targets table has 5 columns
        assert {row[0]: (number(row[1]), number(row[2])) for row in composition} == expected, by


def test_rejects_numbers_equal_the_rejects_table(spark, released_lake, card):
    tables = card_tables((card / "card.md").read_text())
    rejects = spark.read.format("delta").load(str(released_lake / "rejects" / "web_text"))
    expected = {(r.stage, r.rule): r["count"] for r in rejects.groupBy("stage", "rule").count().collect()}
    assert {(row[0], row[1]): number(row[2]) for row in tables["stage"]} == expected


def test_representativeness_and_diff(spark, released_lake, card):
    text = (card / "card.md").read_text()
    tables = card_tables(text)
    release = spark.read.format("delta").load(str(released_lake / "releases" / "web_text" / "r2"))
    tokens = {r.lang: r.n for r in release.groupBy("lang").agg(F.sum("n_tokens").alias("n")).collect()}
    total = sum(tokens.values())
    # web_text targets: en 0.5, de 0.2, fr 0.15, es 0.15; the test docs are 2/3 en and 1/3 de.
    shares = {row[0]: float(row[1]) for row in tables["lang"] if len(row) == 5}
    assert shares == pytest.approx({"en": tokens["en"] / total, "de": tokens["de"] / total, "fr": 0, "es": 0}, abs=1e-4)
    assert "lang `en` is" in text and "over-represented" in text and "lang `fr` is 0.0% of tokens" in text
    assert [number(c) for c in tables["added"][0]] == [1_000, 0, 0, 1_500]  # r1 had 1,500 of r2's 2,500 docs


def test_card_of_current_gold_and_of_a_missing_release(spark, released_lake, tmp_path, capsys):
    assert main(["card", "--out", str(tmp_path / "gold"), "--lake", str(released_lake), *RELEASE_SETTINGS]) == 0
    # Gold's latest version: the second publish of the released lake (no test changes that shared lake).
    first_line = (tmp_path / "gold" / "card.md").read_text().splitlines()[0]
    assert first_line == "# Dataset card: web_text gold (version 2, not released)"
    assert main(["card", "--release", "nope", "--out", str(tmp_path), "--lake", str(released_lake), "-q"]) == 2
    assert "no release 'nope'" in capsys.readouterr().err


def test_card_numbers_are_computed_without_drawing(spark, released_lake):
    from refinery.commands.card_numbers import card_numbers
    from refinery.config import load_config
    from refinery.lake.store import Lake

    config = load_config("web_text", "local", [f"lake.root={released_lake}", "publish.group_key=url_host"])
    numbers = card_numbers(Lake(spark, config.lake), config, "r2")
    release = spark.read.format("delta").load(str(released_lake / "releases" / "web_text" / "r2"))
    assert numbers.docs == release.where("copy = 0").count() == 2_500
    assert numbers.tokens == release.agg(F.sum("n_tokens")).first()[0]
    assert numbers.changes.previous == "r1" and (numbers.changes.added, numbers.changes.unchanged) == (1_000, 1_500)
    assert sum(docs for _, docs in numbers.lengths) == numbers.docs
