"""Failpoints for the kill -9 suite: SIGKILL this process group at a named point. Off unless asked for.

`REFINERY_KILL_AT=<point>` kills the process (with its Spark JVM, when it leads its process group) at
`kill_point(<point>)`. `REFINERY_KILL_AT=write:<part of a table path>` kills it in the middle of a Delta
write to that table: as soon as the write's first data file lands, before its commit (or right after
the commit when the write made no file); `optimize:<part of a table path>` does the same inside maintain's
OPTIMIZE (compaction) of that table. Nothing here runs unless the variable is set.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "REFINERY_KILL_AT"


def kill_point(name: str) -> None:
    """Die here when the suite asked for `name`."""
    if os.environ.get(ENV) == name:
        _kill()


@contextmanager
def killed_during_write(table_path: str | None, kind: str = "write") -> Iterator[None]:
    """Around a Delta write: die mid-write when the suite asked for `<kind>:<part of table_path>`."""
    wanted, prefix = os.environ.get(ENV, ""), f"{kind}:"
    if not wanted.startswith(prefix) or not table_path or wanted.removeprefix(prefix) not in table_path:
        yield
        return
    folder = Path(table_path.removeprefix("file:"))
    existing = _data_files(folder)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if _data_files(folder) - existing:
                _kill()
            time.sleep(0.002)

    threading.Thread(target=watch, name="refinery-failpoint", daemon=True).start()
    try:
        yield
    finally:
        done.set()
    _kill()


def _data_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts} if folder.exists() else set()


def _kill() -> None:
    if os.getpgrp() == os.getpid():  # started in a session of its own: take the JVM down too
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
