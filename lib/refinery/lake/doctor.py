"""Torn Delta commits: found before anything is written on top of them, and set aside (`refinery doctor`).

A commit file (`_delta_log/<version>.json`) holds one JSON action per line. One cut short (a full disk, a
crash on a file system without atomic renames, a copy that stopped half-way) is a *torn* commit: Spark's
Delta reader may pass over its broken line in silence, and the next writer commits on top of it, after which
other readers (delta-rs) cannot read the table at all. So every writing command first checks, in a local
lake, the commits a reader replays (those after the table's last checkpoint) of every table, and refuses to
start on a torn one; `refinery doctor` lists them and `refinery doctor --repair` rolls each such table back
to the version before its first torn commit: that commit and every later one (with their checksum files)
move to `_refinery/doctor/<time>/<table>/`, and the table reads as it was at that version. Their data files
stay until VACUUM removes them. The next command redoes what the set-aside commits held: ingest plans the
files no batch committed again, later stages rewrite their outputs. Spark-free: it reads files only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from refinery import paths

LOG = "_delta_log"
DOCTOR_FOLDER = "_refinery/doctor"  # where repaired tables' set-aside commits go, below the lake root
_COMMIT = re.compile(r"^(\d{20})\.json$")
_NOT_TABLES = ("raw",)  # top-level folders of files, not tables: never walked


@dataclass(frozen=True)
class TornCommit:
    """A commit file that does not parse: its table (relative to the lake root), version and what is wrong."""

    table: str
    version: int
    reason: str

    @property
    def file(self) -> str:
        return f"{self.table}/{LOG}/{self.version:020d}.json"


def torn_commits(lake_root: str) -> list[TornCommit]:
    """The first torn commit of every table of a local lake (none for a lake on object storage: not checked)."""
    if not paths.is_local(lake_root) or not Path(paths.local_path(lake_root)).is_dir():
        return []
    root = Path(paths.local_path(lake_root))
    found = []
    for table in _tables(root):
        for version, commit in _replayed_commits(table / LOG):
            if (reason := _tear(commit)) is not None:
                found.append(TornCommit(table.relative_to(root).as_posix(), version, reason))
                break
    return found


def repair(lake_root: str, torn: list[TornCommit]) -> list[str]:
    """Roll each table back to the version before its torn commit; one line per table on what moved where."""
    root = Path(paths.local_path(lake_root))
    aside = root / DOCTOR_FOLDER / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    done = []
    for commit in torn:
        log = root / commit.table / LOG
        target = aside / commit.table
        target.mkdir(parents=True, exist_ok=True)
        moved = [path for path in log.iterdir() if path.is_file() and _version_of(path) >= commit.version]
        for path in moved:
            shutil.move(path, target / path.name)
        versions = sorted({_version_of(path) for path in moved if _COMMIT.match(path.name)})
        done.append(
            f"{commit.table}: back at version {commit.version - 1}; commits {versions[0]}..{versions[-1]} set aside "
            f"in {target.relative_to(root).as_posix()}"
        )
    return done


def _tables(root: Path) -> Iterator[Path]:
    """Every folder below `root` holding a Delta log (a table's own folders are not walked further)."""
    for directory, dirs, _files in os.walk(root):
        here = Path(directory)
        if LOG in dirs:
            dirs.clear()
            yield here
        elif here == root:
            dirs[:] = [name for name in dirs if name not in _NOT_TABLES]


def _replayed_commits(log: Path) -> list[tuple[int, Path]]:
    """The commit files after the last checkpoint, oldest first (all of them when there is none)."""
    checkpoint = -1  # no checkpoint (or an unreadable pointer): every commit is replayed
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        checkpoint = int(json.loads((log / "_last_checkpoint").read_text())["version"])
    commits = [(int(match.group(1)), path) for path in log.iterdir() if (match := _COMMIT.match(path.name))]
    return sorted((version, path) for version, path in commits if version > checkpoint)


def _tear(commit: Path) -> str | None:
    """What is wrong with a commit file, or None when every line is a JSON object."""
    try:
        lines = commit.read_bytes().split(b"\n")
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    actions = [line for line in lines if line.strip()]
    if not actions:
        return "empty"
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if not isinstance(json.loads(line), dict):
                return f"line {number} is not a JSON object"
        except ValueError:
            return f"line {number} is cut short or not JSON"
    return None


def _version_of(path: Path) -> int:
    """The version a log file belongs to (`<version>.json`, `<version>.crc`, `.<version>.json.crc`, checkpoint
    parts); -1 for files of no version (`_last_checkpoint`)."""
    match = re.match(r"^\.?(\d{20})\.", path.name)
    return int(match.group(1)) if match else -1
