"""A real Spark standalone cluster on 127.0.0.1 for the cluster test: one master, workers of one core each.

The workers run in a mount namespace of their own (`unshare -m`, root only) in which the project folder and
any other folder named in `hidden` are covered by an empty tmpfs: they cannot see the project's venv, its
source or a driver-side file, so a task that needs one of them fails the way it would on a real cluster.
Their Spark installation is the installed pyspark's, bind-mounted outside the project folder first. Every
process is started in a session of its own and stopped by its pid (process group), also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
# A plain interpreter: the one the project's venv was made from, without the venv's packages.
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
_CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_environment(**extra: str) -> dict[str, str]:
    """An environment without the project's venv: no VIRTUAL_ENV, PYTHONPATH or venv on PATH."""
    env = {
        "PATH": _CLEAN_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    if "JAVA_HOME" in os.environ:
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    env.update(extra)
    return env


class StandaloneCluster:
    """`with StandaloneCluster(folder, hidden=[...], workers=2) as cluster: ... cluster.master_url`."""

    def __init__(self, folder: Path, *, hidden: list[Path], workers: int = 2, worker_memory: str = "3g"):
        self.folder = folder
        self.hidden = hidden
        self.workers = workers
        self.worker_memory = worker_memory
        self.port, self.ui_port = free_port(), free_port()
        self.processes: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def __enter__(self) -> StandaloneCluster:
        try:
            self._start_master()
            for index in range(self.workers):
                self._start_worker(index)
            self.wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def _start_master(self) -> None:
        command = [str(SPARK_HOME / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui_port)]
        self._spawn("master", command, plain_environment(SPARK_HOME=str(SPARK_HOME)))

    def _start_worker(self, index: int) -> None:
        spark_view = self.folder / "spark-home"  # the pyspark installation, seen from outside the project folder
        spark_view.mkdir(exist_ok=True)
        work = self.folder / f"worker-{index}"
        work.mkdir(exist_ok=True)
        mounts = [f"mount --bind {shlex.quote(str(SPARK_HOME))} {shlex.quote(str(spark_view))}"]
        mounts += [f"mount -t tmpfs -o size=1m,mode=755 hidden {shlex.quote(str(path))}" for path in self.hidden]
        worker = [str(spark_view / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", self.master_url]
        worker += ["--host", "127.0.0.1", "--cores", "1", "--memory", self.worker_memory]
        worker += ["--work-dir", str(work), "--webui-port", str(free_port())]
        script = " && ".join([*mounts, "exec " + shlex.join(worker)])
        env = plain_environment(SPARK_HOME=str(spark_view), PYSPARK_PYTHON=str(BASE_PYTHON))
        self._spawn(f"worker-{index}", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env)

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def wait_for_workers(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a cluster process exited early; see the logs in {self.folder}")
            try:
                if self.status().get("aliveworkers", 0) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"{self.workers} workers did not register within {timeout:.0f}s; logs in {self.folder}")

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.processes[1:]]

    def stop(self) -> None:
        """SIGTERM each process group by its pid, SIGKILL what is left after 15 s."""
        for process in reversed(self.processes):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group already ended
        os.killpg(pid, sig)


def task_executors(event_log_folder: Path) -> dict[str, int]:
    """Tasks run per executor id, read from the application's Spark event log."""
    counts: dict[str, int] = {}
    for path in event_log_folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        with open(path) as events:
            for line in events:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                executor = json.loads(line)["Task Info"]["Executor ID"]
                counts[executor] = counts.get(executor, 0) + 1
    return counts
