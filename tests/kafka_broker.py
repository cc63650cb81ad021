"""A real Kafka broker on 127.0.0.1 for the stream tests and the latency bench: one KRaft node (broker and
controller in one process), run from the jars `make setup` resolved into the jar cache, stopped by its pid.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyspark

from refinery.session.jars import cached_jars, resolve_jars

PROJECT = Path(__file__).resolve().parents[1]
BROKER_COORDINATE = (
    "org.apache.kafka:kafka_2.13:3.9.1"  # `make setup` resolves it: python -m tests.kafka_broker --resolve
)
JAR_CACHE = PROJECT / ".cache" / "jars"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_classpath() -> str:
    """The broker's jars, plus the Scala library it runs on (pyspark ships one)."""
    jars = cached_jars(JAR_CACHE, [BROKER_COORDINATE])
    if not jars:
        raise RuntimeError(f"the Kafka broker's jars are not in {JAR_CACHE}; run `make setup`")
    # cached_jars leaves out the jars pyspark ships (the Scala library among them): the broker needs it back.
    spark_jars = Path(pyspark.__file__).resolve().parent / "jars"
    scala = [str(jar) for jar in spark_jars.glob("scala-library-*.jar")]
    return os.pathsep.join(jars + scala)


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes them, never starting with "-" (the storage tool would read it as a flag)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """`with KafkaBroker(folder) as broker: ... broker.bootstrap` (a KRaft broker with its own controller)."""

    def __init__(self, folder: Path, *, partitions: int = 2):
        self.folder = folder
        self.partitions = partitions
        self.port, self.controller_port = free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> KafkaBroker:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        properties = self.folder / "server.properties"
        properties.write_text(self._properties())
        java = ["java", "-Xmx512m", "-cp", broker_classpath()]
        formatted = subprocess.run(
            [*java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(properties)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0:
            said = (formatted.stdout + formatted.stderr).strip()
            raise RuntimeError(f"kafka storage format failed (exit {formatted.returncode}): {said[-2000:]}")
        with open(self.folder / "broker.log", "wb") as log:
            self.process = subprocess.Popen(
                [*java, "kafka.Kafka", str(properties)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_serving(timeout)

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.folder / "data"),
            "num.partitions": str(self.partitions),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _wait_until_serving(self, timeout: float) -> None:
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Kafka broker exited; see {self.folder / 'broker.log'}")
            with contextlib.suppress(Exception):  # not listening yet
                KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000).close()
                return
            time.sleep(0.5)
        raise TimeoutError(f"the Kafka broker did not serve within {timeout:.0f}s; see {self.folder / 'broker.log'}")

    def create_topic(self, name: str) -> None:
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic(name, num_partitions=self.partitions, replication_factor=1)])
        finally:
            admin.close()

    def producer(self):
        from kafka import KafkaProducer

        return KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=0)

    def stop(self) -> None:
        """SIGTERM the broker's process group, SIGKILL it after 15 s."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The tests' Kafka broker")
    parser.add_argument("--resolve", action="store_true", help="resolve its jars into the jar cache (make setup)")
    if parser.parse_args().resolve:
        print(f"{len(resolve_jars(JAR_CACHE, BROKER_COORDINATE))} jars for {BROKER_COORDINATE} in {JAR_CACHE}")
    sys.exit(0)
