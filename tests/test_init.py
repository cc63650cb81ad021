"""`refinery init`: a project folder of one's own on the packaged defaults, its schemas profiled and derived."""

from __future__ import annotations

import csv

from refinery import tables
from refinery.cli import main
from refinery.config import load_config
from refinery.config.tabular_schemas import gold_columns, silver_columns
from tests.processes import PROJECT


def described(columns) -> list[tuple]:
    return [(c.name, c.type, c.nullable, c.personal) for c in columns]


def test_silver_and_gold_derived_from_bronze_and_the_config_are_the_samples_declared_ones():
    config = load_config("tabular")
    bronze = list(tables.columns("bronze", "tabular"))
    assert described(silver_columns(bronze, config.tabular)) == described(tables.columns("silver", "tabular"))
    assert described(gold_columns(bronze, config.tabular)) == described(tables.columns("gold", "tabular"))


def write_export(path, rows: int = 120) -> None:
    """A plain CSV export of customers: no operation or sequence columns."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["customer_id", "email", "birth_date", "zip", "gender", "plan", "spend", "months", "churned"])
        for i in range(rows):
            writer.writerow(
                [
                    f"K{i:05d}",
                    f"user{i}@example.org",
                    f"19{50 + i % 45}-0{1 + i % 9}-1{i % 10}",
                    f"0{i % 90 + 10}45",
                    "fm"[i % 2],
                    ["basic", "plus", "pro"][i % 3],
                    f"{20 + i % 70}.5",
                    i % 60,
                    i % 4 == 0,
                ]
            )


def test_init_from_a_plain_csv_profiles_a_pipeline_the_config_accepts(tmp_path, capsys):
    export = tmp_path / "exports" / "customers.csv"
    export.parent.mkdir()
    write_export(export)
    project = tmp_path / "churn"
    assert main(["init", str(project), "--from", str(export)]) == 0
    assert "next: cd" in capsys.readouterr().out
    config = load_config("churn", conf_dir=project)  # the packaged base and env layers under the project's pipeline
    tabular = config.tabular
    assert (tabular.key, tabular.label) == ("customer_id", "churned")
    assert tabular.identifiers == ["customer_id", "email"]
    assert [g.output for g in tabular.generalize] == ["age_band", "zip_prefix"]
    assert config.ingest.sources[0].snapshot is True and config.ingest.sources[0].path == str(export.parent)
    assert config.schemas == str(project / "schemas" / "churn")
    assert config.spark.jars_dir and config.lake.root == str(project / "lake")
    zip_code = next(c for c in tables.columns("bronze", "tabular", config.schemas) if c.name == "zip")
    assert zip_code.type == "string"  # leading zeros kept
    gold = [c.name for c in tables.columns("gold", "tabular", config.schemas)]
    assert {"spend_z", "months_z", "plan_idx", "age_band_idx"} <= set(gold) and "email" not in gold
    assert main(["init", str(project), "--from", str(export)]) == 2  # never over a pipeline that exists


def test_a_conf_dir_with_only_pipelines_keeps_the_packaged_layers(tmp_path):
    own = tmp_path / "mine" / "pipelines"
    own.mkdir(parents=True)
    (own / "crawl.yaml").write_text("ingest:\n  sources: [{name: crawl, format: warc, glob: '*.warc.gz'}]\n")
    config = load_config("crawl", conf_dir=own.parent)
    packaged = load_config("web_text")
    assert config.spark.jars_dir == packaged.spark.jars_dir == str(PROJECT / ".cache" / "jars")
    assert config.spark == packaged.spark and config.ingest.sources[0].format == "warc"


def test_a_copied_project_home_finds_the_jars_where_make_setup_put_them(tmp_path, monkeypatch):
    import shutil

    for folder in ("conf", "schemas"):
        shutil.copytree(PROJECT / folder, tmp_path / "home" / folder)
    monkeypatch.setenv("REFINERY_HOME", str(tmp_path / "home"))
    config = load_config("web_text")
    assert config.spark.jars_dir == str(PROJECT / ".cache" / "jars")  # not <copy>/.cache/jars, which is empty
    assert config.lake.root == str(tmp_path / "home" / "lake")


def test_local_mode_without_delta_jars_is_one_line_not_a_py4j_trace(tmp_path):
    import subprocess
    import sys

    (tmp_path / "raw" / "web_text").mkdir(parents=True)
    (tmp_path / "raw" / "web_text" / "a.jsonl").write_text('{"id": "a", "text": "x"}\n')
    command = [sys.executable, "-m", "refinery.cli", "ingest", "--lake", str(tmp_path), "--set", "spark.jars_dir=null"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "refinery: error: local mode needs Delta's jars: set spark.jars_dir (`make setup` fills .cache/jars)"
    )
