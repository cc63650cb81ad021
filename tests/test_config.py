import dataclasses
import os
from pathlib import Path

import pytest

from refinery.cli import main
from refinery.config import Config, load_config, masked
from refinery.config.layers import build, parse_override, read_yaml, to_plain
from refinery.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[1]


def test_defaults_resolve_for_the_sample_pipeline():
    config = load_config("web_text", "local")
    assert (config.pipeline, config.env, config.kind) == ("web_text", "local", "text")
    assert config.lake.root == str(PROJECT / "lake")  # relative to the project folder, not the working directory
    assert config.spark.master == "local[2]"
    assert config.spark.conf["spark.sql.shuffle.partitions"] == "4"
    assert config.publish.splits == {"train": 0.9, "validation": 0.05, "test": 0.05}


def test_overrides_are_typed_and_win_over_files():
    config = load_config(
        "web_text",
        "local",
        ["publish.num_shards=16", "curate.pii.phone=drop", "spark.conf.spark.sql.shuffle.partitions=8"],
    )
    assert config.publish.num_shards == 16
    assert config.curate.pii.phone == "drop"
    assert config.spark.conf["spark.sql.shuffle.partitions"] == "8"


def test_env_overlay_changes_spark_settings_only():
    cluster = load_config("web_text", "cluster")
    assert cluster.spark.master is None and cluster.spark.jars_dir is None
    assert cluster.config_hash == load_config("web_text", "local").config_hash


def test_config_hash_follows_output_relevant_settings_only():
    base = load_config("web_text", "local")
    assert load_config("web_text", "local", ["lake.root=/elsewhere"]).config_hash == base.config_hash
    assert load_config("web_text", "local", ["publish.salt=other"]).config_hash != base.config_hash


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("publish.nope=1", "publish.nope"),
        ("curate.gopher_quality.min_doc_words=abc", "curate.gopher_quality.min_doc_words"),
        ("curate.gopher_quality.min_doc_words=true", "curate.gopher_quality.min_doc_words"),
        ("curate.pii.email=shred", "curate.pii.email"),
        ("publish.splits.train=0.5", "publish.splits"),
        ("publish.splits.holdout=0.0", "publish.splits.holdout"),
        ("ingest.max_record_chars=0", "ingest.max_record_chars"),
        ("lake=somewhere", "lake"),
        ("dedup.minhash.threshold=1.2", "dedup.minhash.threshold"),
        ("dedup.minhash.verify=maybe", "dedup.minhash.verify"),
        ("dedup.minhash.false_negative_weight=1", "dedup.minhash.false_negative_weight"),
        ("dedup.keep=newest", "dedup.keep"),
        ("publish.group_key=Bad-Key", "publish.group_key"),
        ("publish.tokenizer=gpt2", "publish.tokenizer"),
        ("publish.target_file_mb=0", "publish.target_file_mb"),
        ("publish.mixture.weights.web=-1", "publish.mixture.weights.web"),
        ("publish.mixture.splits=[holdout]", "publish.mixture.splits"),
        ("publish.mixture.by=host", "publish.mixture.by"),
        ("publish.decontamination.ngram=0", "publish.decontamination.ngram"),
        ("card.targets.lang.en=0.9", "card.targets.lang"),
        ("card.targets.host={a: 1.0}", "card.targets.host"),
        # values that type-check but cannot work (issue 14, defect 7)
        ("curate.gopher_quality.min_doc_words=-1", "curate.gopher_quality.min_doc_words"),
        ("curate.gopher_quality.min_doc_words=200000", "curate.gopher_quality.min_doc_words"),
        ("curate.language.min_score=-3", "curate.language.min_score"),
        ("curate.language.min_score=.nan", "curate.language.min_score"),
        ("curate.fineweb.short_line_thr=2", "curate.fineweb.short_line_thr"),
        ("curate.gopher_repetition.dup_n_grams={5: 1.5}", "curate.gopher_repetition.dup_n_grams.5"),
        ("curate.c4.min_words_per_line=-2", "curate.c4.min_words_per_line"),
        ("dedup.minhash.max_rounds=0", "dedup.minhash.max_rounds"),
        ("dedup.minhash.seed=-1", "dedup.minhash.seed"),
        ("dedup.minhash.num_perm=1", "dedup.minhash.num_perm"),
        ("publish.num_shards=99999999999999999999", "publish.num_shards"),
        ("publish.num_shards=5000000", "publish.num_shards"),
        ("publish.row_group_mb=100000000", "publish.row_group_mb"),
        ("publish.splits={}", "publish.splits"),
    ],
)
def test_bad_values_name_the_key(override, named):
    with pytest.raises(ConfigError, match=f"'{named}'"):
        load_config("web_text", "local", [override])


def test_a_yaml_file_with_a_repeated_key_is_refused(tmp_path):
    conf = tmp_path / "conf"
    (conf / "pipelines").mkdir(parents=True)
    (conf / "base.yaml").write_text("publish:\n  num_shards: 4\n  salt: a\n  num_shards: 8\n")
    (conf / "pipelines" / "p.yaml").write_text("kind: text\n")
    with pytest.raises(ConfigError, match="'num_shards' appears twice .*line 4"):
        load_config("p", "local", conf_dir=conf)
    with pytest.raises(ConfigError, match="--set publish.splits"):
        load_config("web_text", "local", ["publish.splits={train: 0.5, train: 0.5}"])


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("no-equals-sign")
    assert parse_override("spark.conf.spark.sql.ansi.enabled=true") == {
        "spark": {"conf": {"spark.sql.ansi.enabled": True}}
    }


def test_unknown_pipeline_and_env():
    with pytest.raises(ConfigError, match="unknown pipeline 'nope'"):
        load_config("nope", "local")
    with pytest.raises(ConfigError, match="unknown env"):
        load_config("web_text", "moon")


def test_secrets_are_masked():
    config = load_config("web_text", "cluster", ["spark.conf.fs.s3a.secret.key=hunter2"])
    assert masked(config)["spark"]["conf"]["fs.s3a.secret.key"] == "***"
    assert masked(config)["curate"]["pii"]["secret"] == "redact"  # a PII kind, not a secret


def test_credentials_in_a_lake_uri_or_a_key_file_setting_are_never_printed(capsys):
    pem = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"
    args = [
        "--lake",
        "s3a://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/lake",
        "--set",
        f"spark.conf.fs.gs.auth.service.account.json={pem}",
    ]
    assert main(["conf", "--env", "cluster", *args, "--set", "spark.conf.fs.gs.auth.keyfile=/keys/sa.p12"]) == 0
    printed = capsys.readouterr().out
    assert "s3a://***@bucket/lake" in printed and "wJalrXUtnFEMI" not in printed and "AKIAEXAMPLE" not in printed
    assert "PRIVATE KEY" not in printed and "sa.p12" not in printed
    from refinery.errors import MissingInputError
    from refinery.paths import shown

    assert shown("read s3a://K:S@b/x and abfss://c@a.dfs.core.windows.net/y") == (
        "read s3a://***@b/x and abfss://***@a.dfs.core.windows.net/y"
    )
    assert "S@" not in str(MissingInputError("s3a://K:S@b/lake/bronze/p", "ingest"))


def test_cli_bad_config_exits_2_with_one_line_naming_the_key(capsys):
    assert main(["conf", "--set", "curate.bogus=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "curate.bogus" in err


def test_cli_conf_prints_resolved_config(capsys):
    assert main(["conf", "--pipeline", "web_text", "--set", "publish.num_shards=3"]) == 0
    out = capsys.readouterr().out
    assert "num_shards: 3" in out and "pipeline: web_text" in out


def test_cli_unknown_command_exits_2():
    assert main(["fly"]) == 2


def test_relative_config_paths_follow_the_project_folder_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REFINERY_HOME", raising=False)
    config = load_config("web_text", "local")
    assert config.spark.jars_dir == str(PROJECT / ".cache" / "jars")
    assert config.lake.root == str(PROJECT / "lake")
    # Eval set paths keep what the file says (they are part of the config hash), resolved where read.
    assert config.publish.decontamination.eval_sets[0].path == "data/sample/eval/reading_qa.jsonl"
    assert config.config_hash == load_config("web_text", "local", [f"lake.root={tmp_path}"]).config_hash


def test_the_cli_runs_from_outside_the_checkout(tmp_path):
    """`refinery` started elsewhere finds conf/, schemas/ and the jar cache of its project (it once failed
    with 'Delta jars not found'); `--lake` typed there is relative to where it runs."""
    import subprocess
    import sys

    raw = tmp_path / "lake" / "raw" / "web_text"
    raw.mkdir(parents=True)
    (raw / "one.jsonl").write_text('{"id": "a", "text": "A line of text."}\n')
    env = {k: v for k, v in os.environ.items() if k != "REFINERY_HOME"}
    done = subprocess.run(
        [sys.executable, "-m", "refinery.cli", "ingest", "--lake", "lake", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lake" / "bronze" / "web_text" / "_delta_log").is_dir()
    assert "ingest" in done.stdout and "bronze/web_text" in done.stdout


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("tabular.label=nope", "tabular.label"),
        ("tabular.key=customer", "tabular.key"),
        ("tabular.fairness.sample_weight_by=region2", "tabular.fairness.sample_weight_by"),
        ("ingest.sources=[{name: p, format: parquet}]", "source 'p'"),
    ],
)
def test_a_tabular_setting_must_name_a_declared_column(override, named):
    with pytest.raises(ConfigError, match=named):
        load_config("tabular", "local", [override])


def test_a_tabular_config_hash_ignores_the_text_sections():
    base = load_config("tabular").config_hash
    assert load_config("tabular", "local", ["curate.c4.min_num_sentences=9"]).config_hash == base
    assert load_config("tabular", "local", ["tabular.anonymity.k=4"]).config_hash != base
    assert (
        load_config("web_text", "local", ["tabular.anonymity.k=4"]).config_hash == load_config("web_text").config_hash
    )


def test_each_kind_has_its_commands():
    text, tabular = load_config("web_text").pipeline_kind, load_config("tabular").pipeline_kind
    for command in ("ingest", "curate", "dedup", "publish", "stream", "forget", "explain", "maintain"):
        text.check_command("web_text", command)
    for command in ("ingest", "curate", "publish", "maintain"):
        tabular.check_command("tabular", command)
    for command, what in (("dedup", "stage"), ("stream", "command"), ("forget", "command"), ("explain", "command")):
        with pytest.raises(ConfigError, match=f"pipeline 'tabular' is tabular: it has no {command} {what}"):
            tabular.check_command("tabular", command)


def undocumented(section, documented: dict, where: str = "") -> list[str]:
    """The settings of a dataclass section (recursively) that a YAML mapping does not list."""
    missing = []
    for field in dataclasses.fields(section):
        key = f"{where}{field.name}"
        if not field.init or key in ("pipeline", "env"):  # named by the command, not defaulted
            continue
        if field.name not in documented:
            missing.append(key)
        elif dataclasses.is_dataclass(value := getattr(section, field.name)):
            missing += undocumented(value, documented[field.name] or {}, f"{key}.")
    return missing


def test_conf_base_documents_every_default_and_agrees_with_the_dataclasses():
    """The dataclasses hold the defaults; conf/base.yaml lists each of them, with the same value."""
    base = read_yaml(PROJECT / "conf" / "base.yaml")
    defaults = Config(pipeline="web_text", env="local")
    assert undocumented(defaults, base) == []
    from_file = to_plain(build(Config, {**base, "pipeline": "web_text", "env": "local"}))

    def differences(left, right, where=""):
        if isinstance(left, dict) and isinstance(right, dict) and left.keys() == right.keys():
            return [d for key in left for d in differences(left[key], right[key], f"{where}{key}.")]
        return [] if left == right else [f"{where.rstrip('.')}: {left!r} in conf/base.yaml, {right!r} in the code"]

    assert differences(from_file, to_plain(defaults)) == []


def test_a_disagreeing_default_is_found(tmp_path):
    base = read_yaml(PROJECT / "conf" / "base.yaml")
    base["spark"]["log_level"] = "WARN"
    del base["publish"]["num_shards"]
    assert undocumented(Config(pipeline="web_text", env="local"), base) == ["publish.num_shards"]
    assert to_plain(build(Config, {**base, "pipeline": "p", "env": "local"}))["spark"]["log_level"] != (
        Config(pipeline="p", env="local").spark.log_level
    )
