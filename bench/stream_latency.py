"""`refinery stream` from a real Kafka broker: produce -> silver latency at a fixed rate, and the highest
sustained rate (a backlog drained end to end), on this machine.

Starts a KRaft broker on 127.0.0.1 (`tests.kafka_broker`, jars from `make setup`) and one `refinery stream`
process reading a topic. Documents are the bundled sample's web pages with fresh ids. A message's latency is
the timestamp of the silver commit that holds its document minus the time it was sent; commits are read from
silver's Delta log as they land (documents curation rejects never reach silver and are left out).

    .venv/bin/python bench/stream_latency.py [--rate 20] [--seconds 120] [--backlog 20000] [--trigger 1]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kafka_broker import KafkaBroker  # noqa: E402

TOPIC = "bench-docs"
SAMPLE = ROOT / "data" / "sample" / "web_text"


def documents() -> list[dict]:
    """The sample's web pages (as records), reused with fresh ids."""
    records = []
    for path in sorted(SAMPLE.glob("web-*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records


class SilverWatcher:
    """Reads silver's Delta log as commits land: when each doc_id first appeared (commit timestamp, seconds)."""

    def __init__(self, silver: Path):
        self.silver = silver
        self.seen: dict[str, float] = {}
        self.next_version = 0

    def poll(self) -> None:
        log = self.silver / "_delta_log"
        while (commit := log / f"{self.next_version:020d}.json").exists():
            actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
            at = next(a["commitInfo"]["timestamp"] for a in actions if "commitInfo" in a) / 1000
            for action in actions:
                if "add" in action:
                    ids = pq.read_table(self.silver / action["add"]["path"], columns=["doc_id"]).column(0)
                    for doc_id in ids.to_pylist():
                        self.seen.setdefault(doc_id, at)
            self.next_version += 1


def produce_at_rate(broker, docs: list[dict], prefix: str, rate: float, seconds: float) -> dict[str, float]:
    """Send `rate` documents a second for `seconds`; return each doc id's send time."""
    producer = broker.producer()
    sent: dict[str, float] = {}
    start = time.time()
    for i in range(int(rate * seconds)):
        time.sleep(max(0.0, start + i / rate - time.time()))
        doc = {**docs[i % len(docs)], "id": f"{prefix}-{i}"}
        sent[doc["id"]] = time.time()
        producer.send(TOPIC, json.dumps(doc).encode())
    producer.flush()
    producer.close()
    return sent


def wait_until_seen(watcher: SilverWatcher, ids, timeout: float, *, share: float = 0.9) -> float:
    """Poll silver until `share` of `ids` are there (curation drops a few); return when that happened."""
    deadline = time.time() + timeout
    wanted = len(ids) * share
    while time.time() < deadline:
        watcher.poll()
        if sum(doc_id in watcher.seen for doc_id in ids) >= wanted:
            return time.time()
        time.sleep(0.2)
    raise TimeoutError(f"silver holds {sum(i in watcher.seen for i in ids)} of {len(ids)} docs after {timeout}s")


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="messages per second in the latency phase")
    parser.add_argument("--seconds", type=float, default=120, help="length of the latency phase")
    parser.add_argument("--backlog", type=int, default=20000, help="messages drained in the throughput phase")
    parser.add_argument("--trigger", type=int, default=1, help="stream.trigger_seconds")
    args = parser.parse_args(argv)
    docs = documents()
    with (
        tempfile.TemporaryDirectory(prefix="refinery-stream-bench-") as folder,
        KafkaBroker(Path(folder) / "broker") as broker,
    ):
        broker.create_topic(TOPIC)
        lake = Path(folder) / "lake"
        source = {
            "name": "events",
            "format": "kafka",
            "kafka": {"bootstrap_servers": broker.bootstrap, "topics": [TOPIC]},
        }
        command = [sys.executable, "-m", "refinery.cli", "stream", "--lake", str(lake), "-q"]
        command += [
            "--set",
            "ingest.sources=" + json.dumps([source]),
            "--set",
            f"stream.trigger_seconds={args.trigger}",
        ]
        stream = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            watcher = SilverWatcher(lake / "silver" / "web_text")
            warm = produce_at_rate(broker, docs, "warm", rate=10, seconds=2)
            wait_until_seen(watcher, list(warm), timeout=600)

            sent = {}
            producer = threading.Thread(
                target=lambda: sent.update(produce_at_rate(broker, docs, "lat", args.rate, args.seconds))
            )
            producer.start()
            producer.join()
            wait_until_seen(watcher, list(sent), timeout=600)
            latencies = [watcher.seen[i] - t for i, t in sent.items() if i in watcher.seen]

            started = time.time()
            backlog = produce_at_rate(broker, docs, "backlog", rate=1e9, seconds=args.backlog / 1e9)
            done = wait_until_seen(watcher, list(backlog), timeout=3600)
        finally:
            stream.send_signal(signal.SIGTERM)
            _, stderr = stream.communicate(timeout=600)
        if stream.returncode != 0:
            print(stderr[-3000:], file=sys.stderr)
            return 1
    rate = len(backlog) / (done - started)
    print(f"latency at {args.rate:g} msg/s for {args.seconds:g} s (trigger {args.trigger} s): {len(latencies)} docs")
    print(
        f"  produce -> silver p50 {percentile(latencies, 0.5):.1f} s, p95 {percentile(latencies, 0.95):.1f} s, "
        f"max {max(latencies):.1f} s"
    )
    print(f"sustained: {len(backlog):,} messages produce -> silver in {done - started:.1f} s = {rate:,.0f} msg/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
