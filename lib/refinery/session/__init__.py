"""The one place that builds a SparkSession: local (cached Delta jars), cluster (spark-submit) or Databricks."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from refinery.config import SparkConfig
from refinery.errors import ConfigError, UsageError

log = logging.getLogger(__name__)


class SparkStartError(UsageError):
    """The JVM did not start (no Java, a bad spark.* setting): one line naming the log to read."""


DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
SPARK_LOG_FILE_CONF = "refinery.spark_log_file"  # session setting naming the JVM's log file
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
LOCAL_DIR = "spark.local.dir"
SCRATCH = "scratch-"  # + the pid of the process whose Spark scratch files the folder holds
_LOG4J_OPTION = f"-Dlog4j2.configurationFile={(Path(__file__).parent / 'log4j2.properties').as_uri()}"


def get_session(config: SparkConfig, *, spark_log: str = "file", private_files: bool = False) -> SparkSession:
    """Reuse the active session (spark-submit, Databricks, tests) or start one from `config`.

    A reused session is returned untouched: its master, jars and packages belong to whoever started it.
    When this process starts the JVM itself (local mode), the JVM logs warnings and errors only
    (`log4j2.properties` next to this module) and, with `spark_log="file"`, its output goes to a log file
    (`SPARK_LOG_FILE_CONF` names it) instead of the console. Its scratch files (shuffle and spill, which hold
    rows) go to a folder of this process under the user-only temp folder, removed at exit; one a killed process
    left is removed by the next. With `private_files`, what this process and its JVM create is readable by
    this user only (umask 077).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    builder = SparkSession.builder.appName(config.app_name)
    if config.master:
        builder = builder.master(config.master)
    if (config.master or "").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Local Python workers must run this interpreter (the venv), not whatever `python3` is on PATH.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    local = (config.master or "").startswith("local")
    if local and not config.jars_dir and not config.packages and "spark.jars" not in config.conf:
        # Without them Delta's classes are missing and the first Delta call fails deep inside py4j.
        raise ConfigError("local mode needs Delta's jars: set spark.jars_dir (`make setup` fills .cache/jars)")
    if config.jars_dir:
        from refinery.session.jars import cached_jars  # here: `python -m refinery.session.jars` runs it on its own

        jars = cached_jars(config.jars_dir)
        if not jars:
            raise ConfigError(f"Delta jars not found in {config.jars_dir}; run `make setup` (or set spark.jars_dir)")
        builder = builder.config("spark.jars", ",".join(jars))
    if config.packages:
        builder = builder.config("spark.jars.packages", ",".join(config.packages))
    builder = builder.config("spark.sql.extensions", DELTA_EXTENSION).config(
        "spark.sql.catalog.spark_catalog", DELTA_CATALOG
    )
    for key, value in config.conf.items():
        builder = builder.config(key, value)

    starts_jvm = _starts_a_jvm()
    if starts_jvm and private_files:  # Python's files, and Hadoop's (it applies its own umask setting)
        os.umask(0o077)
        builder = builder.config("spark.hadoop.fs.permissions.umask-mode", "077")
    if starts_jvm and LOCAL_DIR not in config.conf:
        builder = builder.config(LOCAL_DIR, str(_scratch_folder()))
    if starts_jvm:
        java_options = " ".join(
            filter(None, [config.conf.get(DRIVER_JAVA_OPTIONS), _LOG4J_OPTION, _class_archive_option(config)])
        )
        builder = builder.config(DRIVER_JAVA_OPTIONS, java_options)
    log_file = _new_log_file() if spark_log == "file" and starts_jvm else None
    with _output_to(log_file):
        try:
            session = builder.getOrCreate()
        except Exception as exc:
            where = f"; Spark's output is in {log_file}" if log_file else ""
            raise SparkStartError(f"Spark did not start ({type(exc).__name__}){where}") from exc
    if log_file:
        session.conf.set(SPARK_LOG_FILE_CONF, str(log_file))
    session.sparkContext.setLogLevel(config.log_level)
    if config.shuffle_partition_mb:  # until a stage sizes them from its input: one per core
        session.conf.set("spark.sql.shuffle.partitions", str(session.sparkContext.defaultParallelism))
    log.info("spark %s session started (master=%s)", session.version, session.sparkContext.master)
    return session


def _class_archive_option(config: SparkConfig) -> str | None:
    """Map the JVM's classes from the archive `make setup` built (refinery.class_archive), when there is one."""
    if config.class_archive and Path(config.class_archive).is_file():
        # Quoted: Spark splits java options at spaces outside quotes, and a project folder may have spaces.
        quoted = config.class_archive.replace("\\", "\\\\").replace('"', '\\"')
        return f'"-XX:SharedArchiveFile={quoted}"'
    return None


def spark_log_file(spark: SparkSession) -> str | None:
    """The file the JVM's output goes to, when this process started the JVM with spark_log=file."""
    return spark.conf.get(SPARK_LOG_FILE_CONF, None)


def _starts_a_jvm() -> bool:
    """Whether getOrCreate launches a JVM here (not under spark-submit or a notebook, whose JVM runs)."""
    from pyspark import SparkContext

    return "PYSPARK_GATEWAY_PORT" not in os.environ and SparkContext._jvm is None


def _user_folder() -> Path:
    """The temp folder of this user's Refinery processes, readable by this user only."""
    folder = Path(tempfile.gettempdir()) / f"refinery-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _scratch_folder() -> Path:
    """This process's folder for Spark's scratch files (`spark.local.dir`), removed when the process exits; the
    folders of processes that are gone (a kill -9) are removed first."""
    folder = _user_folder()
    for stale in folder.glob(f"{SCRATCH}*"):
        pid = stale.name.removeprefix(SCRATCH)
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    scratch = folder / f"{SCRATCH}{os.getpid()}"
    scratch.mkdir(mode=0o700, exist_ok=True)
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # before the JVM's: it runs after it stops
    return scratch


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _new_log_file() -> Path:
    """A new file for the JVM's output, readable by this user only (Spark's log may quote a failing value)."""
    folder = _user_folder()
    path = folder / f"spark-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    return path


@contextmanager
def _output_to(log_file: Path | None) -> Iterator[None]:
    """Point this process's stdout and stderr at `log_file` while the block runs (a JVM started in it keeps
    them for its life); nothing changes when `log_file` is None."""
    if log_file is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log_file, "ab") as target:
            os.dup2(target.fileno(), 1)
            os.dup2(target.fileno(), 2)
        yield
    finally:
        for fd, original in zip((1, 2), saved, strict=True):
            os.dup2(original, fd)
            os.close(original)


@contextmanager
def settings(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """Session settings for the block only: each key gets its old value back (or is unset) afterwards."""
    previous = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


class Persisted:
    """The frames a block keeps persisted (memory, spilling to disk); all are unpersisted when it ends.

    with Persisted() as cache:
        flagged = cache.keep(flagged)
        ...
    """

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def keep(self, frame: DataFrame) -> DataFrame:
        """Persist `frame` until the block ends (or `release`); return it."""
        kept = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(kept)
        return kept

    def release(self, frame: DataFrame) -> None:
        """Unpersist `frame` before the block ends (the data behind it is no longer needed)."""
        frame.unpersist()
        self._frames = [kept for kept in self._frames if kept is not frame]

    def __enter__(self) -> Persisted:
        return self

    def __exit__(self, *_exc) -> None:
        for frame in self._frames:
            frame.unpersist()
        self._frames = []
