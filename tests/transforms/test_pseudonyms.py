"""Keyed pseudonyms: stable for one key, unrelated for another, never showing the key; fields and PII kinds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality

from refinery.cli import main
from refinery.config import load_config, masked
from refinery.errors import ConfigError
from refinery.transforms.pii import redact_pii
from refinery.transforms.pseudonyms import Pseudonymizer, pseudonymize_columns, pseudonymize_fields

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "web_text"
KEY_A = b"a-key-of-at-least-16-bytes"
KEY_B = b"another-key-of-16-bytes-or-more"
ROWS = "doc_id string, url string, meta map<string,string>"


def test_tokens_are_stable_for_a_key_and_unrelated_across_keys():
    a, b = Pseudonymizer(KEY_A), Pseudonymizer(KEY_B)
    assert a.token("ada@example.org", "email") == a.token("ada@example.org", "email")
    assert a.token("ada@example.org", "email").startswith("<EMAIL_") and len(a.token("x", "email")) == 7 + 16 + 1
    assert a.token("ada@example.org", "email") != b.token("ada@example.org", "email")
    assert a.token("ada@example.org", "email") != a.token("bob@example.org", "email")
    assert KEY_A.decode() not in repr(a) and KEY_A.decode() not in str(a)
    assert Pseudonymizer(KEY_A, chars=8).token("v", "url") == a.token("v", "url")[:13] + ">"


def test_fields_become_tokens_and_everything_else_stays(spark):
    pz = Pseudonymizer(KEY_A)
    df = spark.createDataFrame(
        [("1", "https://a.example/p", {"author": "ada", "lang_hint": "en"}), ("2", None, {"lang_hint": "de"})], ROWS
    )
    actual = pseudonymize_fields(df, fields=["url", "meta.author"], pseudonymizer=pz)
    expected = spark.createDataFrame(
        [
            ("1", pz.token("https://a.example/p", "url"), {"author": pz.token("ada", "author"), "lang_hint": "en"}),
            ("2", None, {"lang_hint": "de"}),
        ],
        ROWS,
    )
    assert_df_equality(actual.orderBy("doc_id"), expected.orderBy("doc_id"), ignore_nullable=True)


def test_direct_identifier_columns_become_tokens_that_still_join(spark):
    a, b = Pseudonymizer(KEY_A), Pseudonymizer(KEY_B)
    people = spark.createDataFrame(
        [("C1", "ann@mail.example", 1234), ("C2", None, 5678)], "id string, email string, ssn int"
    )
    accounts = spark.createDataFrame([("C1", 10), ("C1", 20), ("C2", 30)], "id string, balance int")
    tokens = [
        pseudonymize_columns(df, columns=cols, pseudonymizer=a)
        for df, cols in ((people, ["id", "email", "ssn"]), (accounts, ["id"]))
    ]
    expected = spark.createDataFrame(
        [
            (a.token("C1", "id"), a.token("ann@mail.example", "email"), a.token("1234", "ssn")),
            (a.token("C2", "id"), None, a.token("5678", "ssn")),
        ],
        "id string, email string, ssn string",
    )
    assert_df_equality(tokens[0], expected, ignore_row_order=True, ignore_nullable=True)
    assert tokens[0].join(tokens[1], "id").count() == 3  # the tokenized key still joins
    other = pseudonymize_columns(people, columns=["id"], pseudonymizer=b)
    assert not {r.id for r in other.collect()} & {r.id for r in tokens[0].collect()}  # another key, other tokens


def test_a_pii_kind_set_to_pseudonymize_keeps_coreference(spark):
    pz = Pseudonymizer(KEY_A)
    texts = [("1", "write to ada@example.org today"), ("2", "ada@example.org replied; cc bob@example.org")]
    df = spark.createDataFrame(texts, "doc_id string, text string")
    out = {r.doc_id: r.text for r in redact_pii(df, actions={"email": "pseudonymize"}, pseudonymizer=pz).collect()}
    ada, bob = pz.token("ada@example.org", "email"), pz.token("bob@example.org", "email")
    assert out == {"1": f"write to {ada} today", "2": f"{ada} replied; cc {bob}"}
    with pytest.raises(ValueError, match="need a Pseudonymizer"):
        redact_pii(df, actions={"email": "pseudonymize"})


def test_config_names_the_bad_field_and_conf_never_holds_the_key(monkeypatch):
    with pytest.raises(ConfigError, match="privacy.pseudonymize.*cannot pseudonymize 'text'"):
        load_config("web_text", "local", ["privacy.pseudonymize=[text]"])
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY_A.decode())
    config = load_config(
        "web_text", "local", ["privacy.pseudonymize=[url, meta.author]", "curate.pii.email=pseudonymize"]
    )
    assert config.needs_privacy_key
    assert KEY_A.decode() not in json.dumps(masked(config))
    assert not load_config("web_text", "local").needs_privacy_key
    with pytest.raises(ConfigError, match="url_host cannot group pseudonymized URLs"):
        load_config("web_text", "local", ["privacy.pseudonymize=[url]", "publish.group_key=url_host"])


@pytest.mark.parametrize("key", [None, "short"])
def test_a_run_that_makes_pseudonyms_without_a_usable_key_stops_before_the_jvm(tmp_path, key):
    env = {k: v for k, v in os.environ.items() if k != "REFINERY_PRIVACY_KEY"}
    if key:
        env["REFINERY_PRIVACY_KEY"] = key
    (tmp_path / "raw" / "web_text").mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "refinery.cli",
        "run",
        "--lake",
        str(tmp_path),
        "--set",
        "privacy.pseudonymize=[url]",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    problem = "no privacy key is set" if key is None else "shorter than 16 bytes"
    assert len(done.stderr.splitlines()) == 1 and problem in done.stderr and "REFINERY_PRIVACY_KEY" in done.stderr
    assert not (tmp_path / "_refinery").exists()  # nothing started


def test_curate_writes_tokens_into_silver(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY_A.decode())
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    records = [json.loads(line) for line in (SAMPLE / "web-2026-10-01.jsonl").read_text().splitlines()[:6]]
    for record in records:
        record["meta"] = {**(record.get("meta") or {}), "author": "ada"}
        record["text"] += " Please write to ada@example.org for the full schedule."
    (raw / "some.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    settings = ["--set", "privacy.pseudonymize=[url, meta.author]", "--set", "curate.pii.email=pseudonymize"]
    assert main(["ingest", "--lake", str(tmp_path), "-q"]) == 0
    assert main(["curate", "--lake", str(tmp_path), "-q", *settings]) == 0
    silver = spark.read.format("delta").load(str(tmp_path / "silver" / "web_text")).collect()
    assert silver
    pz, urls = Pseudonymizer(KEY_A), {str(record["id"]): record["url"] for record in records}
    for row in silver:
        assert (row.url, row.meta["author"]) == (pz.token(urls[row.doc_id], "url"), pz.token("ada", "author"))
        assert pz.token("ada@example.org", "email") in row.text and "ada@example.org" not in row.text
