"""A lake copied to another folder keeps its lineage: the same release records, card and loader rows, and
a rerun there ingests nothing (issue: absolute paths in the ledger and the file log broke all of these)."""

from __future__ import annotations

import pyarrow as pa

from refinery.cli import main
from refinery.config import load_config
from refinery.lake.ledger import final_rows
from refinery.lake.releases import find_release
from refinery.lake.store import Lake
from refinery.loader import iter_batches
from tests.processes import RELEASE, gold_hash, table


def _cli(capsys, lake, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*args, "--lake", str(lake), "-q"])
    return code, capsys.readouterr().out


def _loader_doc_ids(lake) -> list[str]:
    batches = iter_batches(str(lake), "web_text", RELEASE, "train", columns=["doc_id"], shuffle=True, seed=3)
    return pa.Table.from_batches(list(batches)).column("doc_id").to_pylist()


def test_a_copied_lake_gives_the_same_records_card_and_loader_rows_and_ingests_nothing(
    spark, sample_lakes, tmp_path, capsys
):
    original = sample_lakes.restore("released")
    moved = sample_lakes.restore("released", at=tmp_path / "mounted" / "elsewhere" / "lake")

    shown = [_cli(capsys, lake, "release", "show", RELEASE) for lake in (original, moved)]
    assert shown[0] == shown[1] and shown[0][0] == 0
    assert "config_hash: None" not in shown[0][1] and "table: releases/web_text/r1" in shown[0][1]
    assert str(original) not in shown[0][1]  # nothing in a record names the lake's own folder

    cards = []
    for name, lake in (("original", original), ("moved", moved)):
        assert _cli(capsys, lake, "card", "--release", RELEASE, "--out", str(tmp_path / name))[0] == 0
        cards.append((tmp_path / name / "card.md").read_text())
    assert cards[0] == cards[1]
    assert "unavailable" not in cards[0] and "PII redacted" in cards[0]

    assert _loader_doc_ids(original) == _loader_doc_ids(moved) != []

    code, _ = _cli(capsys, moved, "run")
    assert code == 0
    runs = final_rows(spark.read.format("delta").load(str(moved / "_refinery" / "runs")))
    last_ingest = runs.where("stage = 'ingest'").orderBy("ended_at", ascending=False).first()
    assert (last_ingest["rows_in"], last_ingest["metrics"]["files"]) == (0, "0")
    assert table(spark, moved, "bronze").count() == sample_lakes.reference["bronze"]
    assert gold_hash(spark, moved) == sample_lakes.reference["gold_hash"]

    assert _cli(capsys, moved, "release", "create", "r2")[0] == 0
    lake = Lake(spark, load_config("web_text", "local", [f"lake.root={moved}"]).lake)
    first, second = find_release(lake, "web_text", RELEASE), find_release(lake, "web_text", "r2")
    assert second.config_hash == first.config_hash is not None
    assert second.counts == first.counts
    assert set(second.input_versions) == set(first.input_versions) == {"silver_dedup", "silver", "bronze"}
