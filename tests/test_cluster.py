"""`spark-submit jobs/run.py` on a real standalone cluster: a master and two one-core workers on 127.0.0.1.

The workers cannot see the project folder (its venv, its source, the sample's eval set) nor the driver's
environment: Python dependencies reach the executors only through the packed environment shipped with
`--archives` (`make dist`), exactly as docs/cluster.md says. Gold must equal local mode's, for
the text sample and for the tabular one.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from refinery.session.jars import cached_jars
from tests.cluster import BASE_PYTHON, SPARK_HOME, StandaloneCluster, plain_environment, task_executors
from tests.processes import PROJECT, lake_state, seed
from tests.tabular import KEY, KEY_ENV, seed_tabular, tabular_content

ENV_ARCHIVE = PROJECT / "dist" / "refinery-env.tar.gz"
JARS = PROJECT / ".cache" / "jars"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the workers' private mount namespace needs root")


def submit_command(master: str, driver_python: Path, events: Path) -> list[str]:
    """docs/cluster.md's spark-submit line, with the Delta jars from the local cache instead of --packages
    (the same jars; --py-files puts the Python API inside the delta-spark jar on the path, as --packages does)."""
    jars = cached_jars(JARS)
    delta_jar = next(j for j in jars if Path(j).name.startswith("io.delta_delta-spark_"))
    return [
        str(SPARK_HOME / "bin" / "spark-submit"),
        *("--master", master),
        *("--archives", f"{ENV_ARCHIVE}#environment"),
        *("--conf", "spark.pyspark.python=./environment/bin/python"),
        *("--conf", f"spark.pyspark.driver.python={driver_python}"),
        *("--jars", ",".join(jars)),
        *("--py-files", delta_jar),
        *("--conf", "spark.executor.memory=2g"),
        *("--conf", "spark.eventLog.enabled=true"),
        *("--conf", "spark.eventLog.compress=false"),
        *("--conf", "spark.eventLog.rolling.enabled=false"),
        *("--conf", f"spark.eventLog.dir=file://{events}"),
        str(PROJECT / "jobs" / "run.py"),
    ]


def test_spark_submit_on_a_standalone_cluster_equals_local_mode(spark, sample_lakes, tabular_lake, tmp_path):
    assert ENV_ARCHIVE.exists(), "run `make dist` first (make test and make cluster-test do)"
    # The driver's environment: the packed environment unpacked on the submitting machine (client mode).
    driver_env = tmp_path / "driver-env"
    with tarfile.open(ENV_ARCHIVE) as archive:
        archive.extractall(driver_env, filter="fully_trusted")
    lake = seed(tmp_path / "lake")
    records = seed_tabular(tmp_path / "records")  # the tabular pipeline too: expectations, MERGE, pseudonyms
    events = tmp_path / "events"
    events.mkdir()
    # The plain interpreter the workers get lacks the dependencies: only the archive can bring them.
    plain = subprocess.run([str(BASE_PYTHON), "-c", "import resiliparse"], capture_output=True, env=plain_environment())
    assert plain.returncode != 0

    with StandaloneCluster(tmp_path, hidden=[PROJECT, driver_env]) as cluster:
        for pid in cluster.worker_pids():  # what a worker sees of the project folder: an empty tmpfs
            assert os.listdir(f"/proc/{pid}/root{PROJECT}") == []
        command = submit_command(cluster.master_url, driver_env / "bin" / "python", events)
        command += ["--env", "cluster", "--lake", str(lake)]
        outside = tmp_path / "elsewhere"  # submitted from outside the checkout
        outside.mkdir()
        done = subprocess.run(
            command, cwd=outside, env=plain_environment(), capture_output=True, text=True, timeout=1500
        )
        assert done.returncode == 0, done.stderr[-3000:]
        tabular = command[: command.index("--env")] + ["--pipeline", "tabular", "--env", "cluster"]
        tabular += ["--lake", str(records)]
        done_tabular = subprocess.run(
            tabular, cwd=outside, env=plain_environment(**{KEY_ENV: KEY}), capture_output=True, text=True, timeout=900
        )
        assert done_tabular.returncode == 0, done_tabular.stderr[-3000:]

    tasks = task_executors(events)
    assert len(tasks) == 2 and min(tasks.values()) > 0, tasks  # both executors ran tasks
    reference = sample_lakes.reference
    state = lake_state(spark, lake)
    assert {k: state[k] for k in state} == {k: reference[k] for k in state}
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "web_text"))
    assert rejects.where("rule = 'decontamination'").count() == 3  # the eval set was read on the driver
    assert "publish" in done.stdout and "gold/web_text" in done.stdout
    assert tabular_content(spark, records) == tabular_content(spark, tabular_lake[0])
    print(f"cluster run: {sum(tasks.values())} tasks, per executor {tasks}")
