"""`refinery doctor [--repair]` and the check every writing command makes first: torn Delta commits in a
local lake, listed (and set aside with --repair) by `refinery.lake.doctor`, without a JVM."""

from __future__ import annotations

import sys

from refinery import paths
from refinery.errors import EXIT_FAILED, EXIT_OK
from refinery.lake.doctor import repair, torn_commits

_REPAIR = "run `refinery doctor --repair` to roll those tables back to the version before it"


def say_torn(lake_root: str) -> bool:
    """Whether a table of the lake has a torn commit; if so, a line per table and what to do, on stderr."""
    torn = torn_commits(lake_root)
    for commit in torn:
        print(f"refinery: torn commit {commit.file}: {commit.reason}", file=sys.stderr)
    if torn:
        print(f"refinery: {_REPAIR}", file=sys.stderr)
    return bool(torn)


def doctor(lake_root: str, *, repair_them: bool) -> int:
    """List the lake's torn commits (exit 1), or set them aside (`repair_them`, exit 0); exit 0 when none."""
    shown = paths.shown(lake_root)
    if not paths.is_local(lake_root):
        print(f"lake {shown} is not local: doctor checks local lakes only")
    torn = torn_commits(lake_root)
    for commit in torn:
        print(f"torn commit {commit.file}: {commit.reason}")
    if not torn:
        print(f"lake {shown}: no torn commit")
        return EXIT_OK
    if not repair_them:
        print(_REPAIR)
        return EXIT_FAILED
    for line in repair(lake_root, torn):
        print(f"repaired {line}")
    return EXIT_OK
