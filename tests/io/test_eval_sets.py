"""Eval sets named by a local path are read on the driver with Arrow (a cluster's executors cannot see it)."""

import json

import pytest

from refinery.errors import InputNotFoundError
from refinery.io.eval_sets import read_eval_texts


def test_a_local_jsonl_eval_set_joins_its_fields_and_skips_nulls(spark, tmp_path):
    rows = [{"q": "who wrote it", "c": "the author"}, {"q": "when", "c": None}, {"q": "where", "c": "here", "x": 1}]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    texts = read_eval_texts(spark, "qa", str(path), "jsonl", ["c", "q"])
    assert texts.to_pylist() == ["the author\nwho wrote it", "when", "here\nwhere"]


def test_a_local_folder_of_csv_files_is_one_eval_set(spark, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "a.csv").write_text("text,label\nfirst passage,1\n")
    (folder / "b.csv").write_text("text,label\nsecond passage,0\n")
    texts = read_eval_texts(spark, "set", f"file://{folder}", "csv", ["text"])
    assert sorted(texts.to_pylist()) == ["first passage", "second passage"]


def test_a_missing_path_or_field_is_a_usage_error(spark, tmp_path):
    with pytest.raises(InputNotFoundError, match="eval set 'gone': path .* does not exist"):
        read_eval_texts(spark, "gone", str(tmp_path / "nowhere.jsonl"), "jsonl", ["text"])
    (tmp_path / "qa.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(InputNotFoundError, match="eval set 'qa': field 'text' not in"):
        read_eval_texts(spark, "qa", str(tmp_path / "qa.jsonl"), "jsonl", ["text"])
