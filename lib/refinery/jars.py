"""Resolve Delta's jars once into a local folder, so later local runs need no network.

`make setup` calls `python -m refinery.jars --dest .cache/jars`. The resolution is the one
`spark-submit --packages` does on a cluster (Spark's own Ivy resolver), run in a throwaway
session whose Ivy home points into the ignored cache; the resolved jars are copied to a subfolder
of `dest` named after the Delta coordinate, so environments with other pyspark / delta-spark pairs
(the pyspark 4.0 compatibility job) share the cache without overwriting each other.
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
    """The Maven coordinate of the Delta jar that matches the installed pyspark and delta-spark.

    Delta 4.0 has one artifact per Scala version (`delta-spark_2.13`); later releases one per Spark
    version too (`delta-spark_4.2_2.13`).
    """
    delta = version("delta-spark")
    if tuple(int(part) for part in delta.split(".")[:2]) < (4, 1):
        return f"io.delta:delta-spark_2.13:{delta}"
    spark_major_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_major_minor}_2.13:{delta}"


def cached_jars(folder: str | Path) -> list[str]:
    """The jar files resolved under `folder` for the installed pyspark and delta-spark (empty when they were
    never completely resolved)."""
    resolved = _coordinate_folder(Path(folder), delta_maven_coordinate())
    if not (resolved / COMPLETE_MARKER).exists():
        return []
    return sorted(str(p.resolve()) for p in resolved.glob("*.jar"))


def _coordinate_folder(folder: Path, coordinate: str) -> Path:
    return folder / coordinate.replace(":", "_")


def resolve_jars(dest: str | Path) -> list[str]:
    """Download the Delta jars and their transitive dependencies below `dest` (no-op when done before)."""
    coordinate = delta_maven_coordinate()
    dest = _coordinate_folder(Path(dest), coordinate)
    if (dest / COMPLETE_MARKER).exists():
        return cached_jars(dest.parent)

    from pyspark.sql import SparkSession

    ivy_home = dest.parent.parent / "ivy" / dest.name  # its jars/ folder gets this coordinate's jars only
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
    return cached_jars(dest.parent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=".cache/jars", help="folder for the resolved jars")
    args = parser.parse_args(argv)
    Path(args.dest).mkdir(parents=True, exist_ok=True)
    jars = resolve_jars(args.dest)
    print(f"{len(jars)} jars for {delta_maven_coordinate()} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
