"""The Databricks bundle, checked offline: the job the bundle deploys (typed by databricks-bundles), and the
wheel its tasks install (entry point, packaged conf/ and schemas/, no pyspark or delta-spark)."""

from __future__ import annotations

import configparser
import zipfile
from email.parser import Parser
from importlib import import_module
from pathlib import Path

import pytest
import resources
import yaml
from databricks.bundles.core import Bundle
from databricks.bundles.jobs import Job

from refinery import pipelines
from tests.processes import PROJECT

STAGE_COMMANDS = pipelines.TEXT.stage_names  # the default pipeline, web_text
BUNDLE = yaml.safe_load((PROJECT / "databricks.yml").read_text())


def job(**variables) -> Job:
    values = {name: spec.get("default") for name, spec in BUNDLE["variables"].items()}
    return resources.refinery_job(Bundle(target="dev", variables={**values, **variables}))


def test_the_bundle_declares_every_variable_the_job_reads_and_builds_the_wheel():
    assert set(resources.Vars.__dataclass_fields__) == set(BUNDLE["variables"])
    assert BUNDLE["python"]["resources"] == ["resources:load_resources"]
    assert "pip wheel" in BUNDLE["artifacts"]["refinery"]["build"]
    assert set(BUNDLE["targets"]) == {"dev", "prod"} and BUNDLE["targets"]["prod"]["mode"] == "production"


@pytest.mark.parametrize("serverless", [False, True])
def test_one_task_per_stage_chained_with_retries_timeouts_and_job_parameters(serverless):
    built = job(serverless=serverless)
    tasks = {t.task_key: t for t in built.tasks}
    assert list(tasks) == [*STAGE_COMMANDS, "has_release_name", "release"]
    for before, after in zip(STAGE_COMMANDS, STAGE_COMMANDS[1:], strict=False):
        assert [d.task_key for d in tasks[after].depends_on] == [before]
    assert tasks["release"].depends_on[0].task_key == "has_release_name"
    assert tasks["release"].depends_on[0].outcome == "true"
    assert {p.name for p in built.parameters} == {"pipeline", "lake", "catalog", "schema", "release"}
    assert built.schedule.pause_status.value == "PAUSED" and built.max_concurrent_runs == 1
    for key in (*STAGE_COMMANDS, "release"):
        task = tasks[key]
        assert task.max_retries >= 1 and task.timeout_seconds > 0 and task.retry_on_timeout
        wheel = task.python_wheel_task
        assert wheel.package_name == "refinery" and wheel.entry_point == resources.ENTRY_POINT
        assert "{{job.parameters.pipeline}}" in wheel.parameters and "databricks" in wheel.parameters
        if serverless:
            assert task.environment_key == built.environments[0].environment_key and not task.job_cluster_key
        else:
            assert task.job_cluster_key == built.job_clusters[0].job_cluster_key and not task.environment_key
            assert [lib.whl for lib in task.libraries] == [resources.WHEEL]
    if serverless:
        assert built.environments[0].spec.dependencies == [resources.WHEEL] and not built.job_clusters
    else:
        autoscale = built.job_clusters[0].new_cluster.autoscale
        assert (autoscale.min_workers, autoscale.max_workers) == (1, 8) and not built.environments


def test_a_tabular_pipelines_job_has_its_kinds_stages():
    tasks = [t.task_key for t in job(pipeline="tabular").tasks]
    assert tasks == ["ingest", "curate", "publish", "has_release_name", "release"]


def test_a_misspelt_field_is_refused_by_the_typed_model():
    planted = job().as_dict()
    planted["tasks"][0]["max_retires"] = 3
    with pytest.raises(ValueError, match="max_retires"):
        Job.from_dict(planted)
    planted = job().as_dict()
    planted["shedule"] = planted.pop("schedule")
    with pytest.raises(ValueError, match="shedule"):
        Job.from_dict(planted)


@pytest.fixture(scope="module")
def wheel() -> Path:
    built = sorted((PROJECT / "dist").glob("refinery-*.whl"))
    assert built, "run `make dist` first (make test does)"
    return built[-1]


def test_the_wheel_runs_every_task_without_pulling_spark_or_delta(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(info).decode())
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    scripts = configparser.ConfigParser()
    scripts.read_string(entry_points)
    for task in job().tasks:
        if task.python_wheel_task:
            module, function = scripts["console_scripts"][task.python_wheel_task.entry_point].split(":")
            assert callable(getattr(import_module(module), function))
    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in required if r.startswith(("pyspark", "delta-spark"))]
    assert metadata["Requires-Python"] == "<3.13,>=3.11"  # the runtimes' Python 3.12 too
    for packaged in ("conf/base.yaml", "conf/env/databricks.yaml", "conf/pipelines/web_text.yaml", "schemas/runs.yaml"):
        assert f"refinery/_home/{packaged}" in names
    assert "refinery/session/log4j2.properties" in names
