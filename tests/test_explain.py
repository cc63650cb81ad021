"""`refinery explain DOC_ID` on the finished sample: a kept document, a curate reject, a near duplicate."""

from __future__ import annotations

import json

import pytest

from refinery.cli import main


@pytest.fixture(scope="module")
def lake(sample_lakes):
    return sample_lakes.root / "saved-released"  # read only: explain writes nothing


def explained(lake, doc_id, capsys) -> dict:
    assert main(["explain", doc_id, "--json", "--lake", str(lake), "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def verdicts(found: dict) -> dict[str, str]:
    return {stage["stage"]: stage["verdict"] for stage in found["stages"]}


def test_a_kept_document_from_raw_line_to_release(spark, lake, capsys):
    row = spark.read.format("delta").load(str(lake / "gold" / "web_text")).where("copy = 0").first()
    found = explained(lake, row.doc_id, capsys)
    assert verdicts(found) == dict.fromkeys(("ingest", "curate", "dedup", "publish"), "kept")
    assert found["origin"]["file"].startswith(("web-", "forum", "mixed")) and found["origin"]["batch"] == 1
    assert found["origin"]["position"] >= 1
    assert {"split": row.split, "shard": row.shard, "copy": 0} in found["gold"]
    assert found["releases"] == ["r1"]

    assert main(["explain", row.doc_id, "--lake", str(lake), "-q"]) == 0
    text = capsys.readouterr().out
    assert f"{row.split} shard {row.shard}" in text and "releases  r1" in text


def test_a_curate_reject_names_its_rule_and_goes_no_further(spark, lake, capsys):
    reject = spark.read.format("delta").load(str(lake / "rejects" / "web_text")).where("stage = 'curate'").first()
    found = explained(lake, reject.doc_id, capsys)
    curate = next(s for s in found["stages"] if s["stage"] == "curate")
    assert (curate["verdict"], curate["rule"], curate["detail"]) == ("removed", reject.rule, reject.detail)
    assert verdicts(found) == {"ingest": "kept", "curate": "removed", "dedup": "not reached", "publish": "not reached"}
    assert found["gold"] == [] and found["releases"] == []


def test_a_near_duplicate_names_the_document_it_duplicated(spark, lake, capsys):
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "web_text"))
    near = rejects.where("stage = 'dedup' AND rule = 'minhash'").first()
    found = explained(lake, near.doc_id, capsys)
    dedup = next(s for s in found["stages"] if s["stage"] == "dedup")
    assert dedup["verdict"] == "removed" and dedup["rule"] == "minhash"
    kept = dedup["detail"].removeprefix("near duplicate of ").split(" (cluster of")[0]
    assert verdicts(explained(lake, kept, capsys))["dedup"] == "kept"


def test_an_unknown_id_is_one_line_and_exit_2(lake, capsys):
    assert main(["explain", "no-such-doc", "--lake", str(lake), "-q"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "refinery: error: no document 'no-such-doc' in pipeline web_text (nor in its rejects)"
    ]


def test_an_id_with_control_or_bidirectional_characters_is_shown_escaped():
    from refinery.commands.explain import format_explanation

    spoof = "invoice\u202egpj.exe\x00"
    found = {
        "doc_id": spoof,
        "pipeline": "web_text",
        "origin": {"source": "web", "file": "a\u2028b.jsonl", "position": 1, "batch": 1, "run_id": "r"},
        "stages": [{"stage": "ingest", "verdict": "kept"}],
        "gold": [],
        "releases": [],
    }
    shown = format_explanation(found)
    assert "\u202e" not in shown and "\x00" not in shown and "\u2028" not in shown
    assert shown.splitlines()[0] == "invoice\\u202egpj.exe\\u0000 in pipeline web_text"


def test_explain_and_release_list_and_show_start_no_jvm(spark, lake, capsys, monkeypatch):
    """The read-only commands read a path lake with deltalake: a JVM would take 40 s to start."""
    import refinery.session

    def no_jvm(*_args, **_kwargs):
        raise AssertionError("a read-only command started Spark")

    monkeypatch.setattr(refinery.session, "get_session", no_jvm)
    doc_id = spark.read.format("delta").load(str(lake / "gold" / "web_text")).first().doc_id
    assert explained(lake, doc_id, capsys)["releases"] == ["r1"]
    assert main(["release", "list", "--lake", str(lake), "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("r1 ")
    assert main(["release", "show", "r1", "--lake", str(lake), "-q"]) == 0
    assert "gold_version: " in capsys.readouterr().out
    assert main(["release", "show", "nope", "--lake", str(lake), "-q"]) == 2
    assert "no release 'nope'" in capsys.readouterr().err
