"""Resolve Delta's jars once into a local folder, so later local runs need no network.

`make setup` calls `python -m refinery.jars --dest .cache/jars`. The resolution is the one
`spark-submit --packages` does on a cluster (Spark's own Ivy resolver), run in a throwaway
session whose Ivy home points into the ignored cache; the resolved jars are copied to `dest`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

COMPLETE_MARKER = ".complete"


def delta_maven_coordinate() -> str:
    """The Maven coordinate of the Delta jar that matches the installed pyspark and delta-spark."""
    spark_major_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_major_minor}_2.13:{version('delta-spark')}"


def cached_jars(folder: str | Path) -> list[str]:
    """Jar files in a resolved folder (empty when the folder was never completely resolved)."""
    folder = Path(folder)
    if not (folder / COMPLETE_MARKER).exists():
        return []
    return sorted(str(p.resolve()) for p in folder.glob("*.jar"))


def resolve_jars(dest: str | Path) -> list[str]:
    """Download the Delta jars and their transitive dependencies into `dest` (no-op when done before)."""
    dest = Path(dest)
    coordinate = delta_maven_coordinate()
    marker = dest / COMPLETE_MARKER
    if marker.exists() and marker.read_text().strip() == coordinate:
        return cached_jars(dest)

    from pyspark.sql import SparkSession

    ivy_home = dest.parent / "ivy"
    session = (
        SparkSession.builder.master("local[1]")
        .appName("refinery-resolve-jars")
        .config("spark.jars.packages", coordinate)
        .config("spark.jars.ivy", str(ivy_home.resolve()))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.stop()

    resolved = sorted((ivy_home / "jars").glob("*.jar"))
    if not any("delta-spark" in p.name for p in resolved):
        raise RuntimeError(f"resolving {coordinate} produced no delta-spark jar; check access to Maven Central")
    with tempfile.TemporaryDirectory(dir=dest.parent) as staging:
        for jar in resolved:
            shutil.copy2(jar, staging)
        Path(staging, COMPLETE_MARKER).write_text(coordinate + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(staging, dest)
    return cached_jars(dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=".cache/jars", help="folder for the resolved jars")
    args = parser.parse_args(argv)
    Path(args.dest).parent.mkdir(parents=True, exist_ok=True)
    jars = resolve_jars(args.dest)
    print(f"{len(jars)} jars for {delta_maven_coordinate()} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
