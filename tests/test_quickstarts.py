"""The README's two quickstarts, run as written from a folder outside the checkout: your own WARCs, your own CSV."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.processes import PROJECT
from tests.test_init import write_export
from tests.web_archives import write_crawl_set


def quickstart(heading: str) -> list[str]:
    """The lines of the shell block under a README heading."""
    readme = (PROJECT / "README.md").read_text()
    section = readme[readme.index(f"## {heading}") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def run_block(lines: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run the block with bash -e, its variable lines (`NAME=...`) set to the test's values instead."""
    script = [
        f"{line.split('=')[0]}={variables[line.split('=')[0]]}" if line.split("=")[0] in variables else line
        for line in lines
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("REFINERY_HOME", None)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_the_warc_quickstart_runs_as_written(spark, tmp_path):
    raw = tmp_path / "crawl"
    write_crawl_set(raw)
    work = tmp_path / "work"
    work.mkdir()
    done = run_block(
        quickstart("Your own WARCs in five minutes"), work, WARC=str(raw / "crawl" / "CC-MAIN-00001.warc.gz")
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lake = work / "my-crawl" / "lake"
    bronze = spark.read.format("delta").load(str(lake / "bronze" / "my_crawl"))
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "my_crawl")).where("stage = 'ingest'")
    assert bronze.count() == 29 + 5 and sorted(r.rule for r in rejects.collect()) == [
        "corrupt_record",
        "truncated_record",
    ]
    assert spark.read.format("delta").load(str(lake / "gold" / "my_crawl")).count() > 0
    assert "release first created" in done.stdout or "release first" in done.stdout


def test_the_csv_quickstart_runs_as_written(spark, tmp_path):
    export = tmp_path / "exports" / "customers.csv"
    export.parent.mkdir()
    write_export(export, rows=300)
    work = tmp_path / "work"
    work.mkdir()
    done = run_block(quickstart("Your own CSV in five minutes"), work, CSV=str(export))
    assert done.returncode == 0, done.stderr[-2000:]
    gold = spark.read.format("delta").load(str(work / "churn" / "lake" / "gold" / "churn"))
    assert gold.count() > 0 and {"spend_z", "plan_idx", "split"} <= set(gold.columns) and "email" not in gold.columns
