"""What a user sees: Refinery's lines only, usage errors before the JVM starts, progress, a one-screen summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from refinery.cli import SUMMARY_WIDTH, format_summary, main
from refinery.config import load_config
from refinery.lake.store import TableRef
from refinery.session.progress import StageProgress
from refinery.stages.base import StageResult
from tests.processes import PROJECT

_REFINERY_LINE = re.compile(r"^(\d\d:\d\d:\d\d refinery[.\w]* (INFO|WARNING|ERROR) |refinery[: ])")


def test_version_and_one_line_descriptions(capsys):
    assert main(["--version"]) == 0
    assert re.fullmatch(r"refinery \S+\n", capsys.readouterr().out)
    assert main(["dedup", "--help"]) == 0
    assert "silver -> silver_dedup: exact, then MinHash near-duplicate removal" in capsys.readouterr().out


def test_a_missing_input_is_refused_before_the_jvm_starts(tmp_path):
    check = (
        "import sys; from refinery.cli import main; "
        f"codes = [main([command, '--lake', {str(tmp_path)!r}]) for command in ('run', 'curate', 'publish')]; "
        "spark = sys.modules.get('pyspark'); print(codes, spark is not None and spark.SparkContext._jvm is not None)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[2, 2, 2] False"
    assert done.stderr.splitlines() == [
        f"refinery: error: raw path {tmp_path}/raw/web_text does not exist: put your raw files there, or point the "
        "source's path at their folder (ingest.sources[].path)",
        f"refinery: error: input table {tmp_path}/bronze/web_text does not exist; run `refinery ingest` first",
        f"refinery: error: input table {tmp_path}/silver_dedup/web_text does not exist; run `refinery dedup` first",
    ]


def test_a_raw_path_or_lake_that_is_a_file_and_a_bad_release_name_are_refused_before_the_jvm_starts(tmp_path):
    (tmp_path / "raw" / "web_text").mkdir(parents=True)
    (tmp_path / "raw" / "web_text" / "one.jsonl").write_text('{"id": "a", "text": "t"}\n')
    (tmp_path / "lake.txt").write_text("not a lake")
    source = "ingest.sources=[{name: web, format: jsonl, path: one.jsonl}]"
    check = (
        "import sys; from refinery.cli import main; "
        f"codes = [main(['ingest', '--lake', {str(tmp_path)!r}, '--set', {source!r}]), "
        f"main(['ingest', '--lake', {str(tmp_path / 'lake.txt')!r}]), "
        f"main(['release', 'create', 'Bad Name', '--lake', {str(tmp_path)!r}])]; "
        "spark = sys.modules.get('pyspark'); print(codes, spark is not None and spark.SparkContext._jvm is not None)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[2, 2, 2] False"
    assert done.stderr.splitlines() == [
        f"refinery: error: raw path {tmp_path}/raw/web_text/one.jsonl is a file: point the source's path at its "
        "folder (glob: its name)",
        f"refinery: error: lake root {tmp_path}/lake.txt is a file: point --lake (or lake.root) at a folder",
        "refinery: error: release name 'Bad Name': use lower-case letters, digits, '.', '_' or '-' (up to 64)",
    ]


def test_commands_that_need_a_table_not_written_yet_say_so_in_the_one_wording(spark, tmp_path, capsys):
    """Release, card and profile (which start Spark) name the missing table and the command that writes it in
    the same words as the checks made before the JVM starts."""
    lake = str(tmp_path)
    gold, silver = f"{tmp_path}/gold/web_text", f"{tmp_path}/silver/web_text"
    for args in (
        ("release", "create", "r1"),
        ("card", "--out", str(tmp_path / "card")),
        ("profile", "--layer", "silver"),
    ):
        assert main([*args, "--lake", lake, "-q"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"refinery: error: input table {gold} does not exist; run `refinery publish` first",
        f"refinery: error: input table {gold} does not exist; run `refinery publish` first",
        f"refinery: error: input table {silver} does not exist; run `refinery curate` first",
    ]


def test_a_stage_run_prints_refinery_lines_only_and_its_summary(tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    (raw / "one.jsonl").write_text('{"id": "a", "text": "some words"}\n{"id": "b"}\n')
    scratch = Path(tempfile.gettempdir()) / f"refinery-{os.getuid()}"
    stale = scratch / "scratch-999999999"  # left by a process killed with -9 (no such pid)
    stale.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "refinery.cli", "ingest", "--lake", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    foreign = [line for line in done.stderr.splitlines() if not _REFINERY_LINE.match(line)]
    assert foreign == []  # no JVM, log4j or Ivy lines
    assert "ingest           2         1         1" in done.stdout
    # Local mode: the lake's files are the user's only, and Spark's scratch folders of dead processes are gone.
    bronze = [p for p in (tmp_path / "bronze" / "web_text").rglob("*") if p.is_file()]
    assert bronze and all(p.stat().st_mode & 0o077 == 0 for p in bronze)
    assert not stale.exists()
    left = [p.name for p in scratch.glob("scratch-*") if not Path(f"/proc/{p.name.removeprefix('scratch-')}").exists()]
    assert left == []  # the run's own was removed at its exit


def test_local_jvms_map_their_classes_from_the_archive_setup_built(spark):
    archive = load_config("web_text", "local").spark.class_archive
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert f"-XX:SharedArchiveFile={archive}" in arguments  # `make setup` built it (refinery.class_archive)
    assert "sharing" in jvm.System.getProperty("java.vm.info")  # and the JVM mapped it: its class path matched


def test_progress_names_the_stage_and_counts_its_tasks_and_rows(spark, tmp_path):
    """The job's tasks run until the poller has seen a progress line (or a minute): no timing to depend on."""
    lines: list[str] = []
    seen = tmp_path / "seen"

    def task_until_seen(_):
        deadline = time.monotonic() + 60
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def poll(progress: StageProgress) -> None:
        while not seen.exists():
            if line := progress.line():
                lines.append(line)
                seen.touch()
            time.sleep(0.1)

    with StageProgress(spark, "curate", group="test-progress", every_seconds=0) as progress:
        poller = threading.Thread(target=poll, args=(progress,))
        poller.start()
        spark.sparkContext.parallelize(range(4), 4).foreach(task_until_seen)  # in this thread: the stage's group
        seen.touch()
        poller.join()
    assert lines, "no progress line while the job ran"
    shape = r"curate: \d+s · tasks \d+/\d+( · [\d,]+ rows read in this pass( \([\d,]+/s\))?)?"
    assert all(re.fullmatch(shape, x) for x in lines)
    assert max(int(re.search(r"tasks \d+/(\d+)", x).group(1)) for x in lines) == 4


def test_the_summary_stays_one_screen_however_many_metrics():
    metrics = {f"tokens.train.lang{i:03d}": str(10_000 + i) for i in range(300)}
    by_rule = {f"rule_{i}": i + 1 for i in range(40)}
    result = StageResult(
        "publish", None, None, TableRef("gold/web_text"), 3, 1000, 820, 180, rejected_by_rule=by_rule, metrics=metrics
    )
    summary = format_summary([result], 12.0).splitlines()
    assert len(summary) == 6 and max(len(line) for line in summary) <= SUMMARY_WIDTH
    assert summary[3].startswith("  publish rejected: rule_39 40, rule_38 39")
    assert summary[3].endswith("more in the ledger") and summary[4].endswith("more in the ledger")
