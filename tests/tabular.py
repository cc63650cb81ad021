"""The tabular sample for tests: seeding a lake, running `refinery` on it with a known privacy key, and the
comparable content of its silver and gold (for local mode against the cluster)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
from pathlib import Path

from pyspark.sql import functions as F

from refinery.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "tabular"
MANIFEST = json.loads((SAMPLE / "MANIFEST.json").read_text())
KEY = "tabular-test-key-0123456789abcdef"
KEY_ENV = "REFINERY_PRIVACY_KEY"


def seed_tabular(lake: Path) -> Path:
    raw = lake / "raw" / "tabular"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MANIFEST["files"]:
        shutil.copy(SAMPLE / name, raw / name)
    return lake


@contextlib.contextmanager
def privacy_key(value: str | None):
    """The privacy key variable set to `value` (None: unset) for the block, then as it was."""
    before = os.environ.get(KEY_ENV)
    if value is None:
        os.environ.pop(KEY_ENV, None)
    else:
        os.environ[KEY_ENV] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = before


def tabular_cli(lake: Path, *args: str) -> tuple[int, str]:
    """Run `refinery ARGS --pipeline tabular --lake LAKE` in this process with the test key; (exit code,
    everything it printed and logged: Refinery's log lines at INFO are captured too)."""
    out = io.StringIO()
    handler, logger = logging.StreamHandler(out), logging.getLogger("refinery")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with privacy_key(KEY), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([*args, "--pipeline", "tabular", "--lake", str(lake)])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return code, out.getvalue()


def tabular_content(spark, lake: Path) -> dict[str, list[str]]:
    """Silver's and gold's rows as sorted JSON, without the columns that name the run."""
    content = {}
    for layer in ("silver", "gold"):
        df = spark.read.format("delta").load(str(lake / layer / "tabular"))
        kept = [c for c in df.columns if c not in ("_run_id", "_ingested_at")]
        content[layer] = sorted(r[0] for r in df.select(F.to_json(F.struct(*kept))).collect())
    return content
