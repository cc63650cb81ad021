"""Resolve the JVM packages Refinery's sessions load (Delta, Spark's Kafka source) once into a local folder,
so later local runs need no network.

`make setup` calls `python -m refinery.session.jars --dest .cache/jars`. The resolution is the one
`spark-submit --packages` does on a cluster (Spark's own Ivy resolver), run in a throwaway
session whose Ivy home points into the ignored cache; the jars each coordinate resolves to are copied to
a subfolder of `dest` named after it, so environments with other pyspark / delta-spark pairs (the
pyspark 4.0 compatibility job) share the cache without overwriting each other. `--coordinate` resolves
other packages the same way (the tests' Kafka broker).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

COMPLETE_MARKER = ".complete"
_RESOLVE = """
import sys
from pyspark.sql import SparkSession
builder = SparkSession.builder.master("local[1]").appName("refinery-resolve-jars")
builder = builder.config("spark.jars.packages", sys.argv[1]).config("spark.jars.ivy", sys.argv[2])
builder.config("spark.ui.enabled", "false").getOrCreate().stop()
"""


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


def kafka_maven_coordinate() -> str:
    """Spark's Kafka source and sink for the installed pyspark (`format: kafka` sources)."""
    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{version('pyspark')}"


def session_coordinates() -> list[str]:
    """The packages a Refinery session loads: what `spark.packages` names on a cluster."""
    return [delta_maven_coordinate(), kafka_maven_coordinate()]


def optional_coordinates() -> list[str]:
    """Session packages a run can do without: Kafka's source is needed by `format: kafka` sources only (and
    is not served for every Spark patch release)."""
    return [kafka_maven_coordinate()]


def cached_jars(folder: str | Path, coordinates: list[str] | None = None) -> list[str]:
    """The jar files resolved under `folder` for `coordinates` (by default the session's), each jar once and
    none that pyspark ships itself (Kafka's client pulls Hadoop's); empty when a required one was never
    completely resolved (an optional one is left out)."""
    shipped = _pyspark_jar_names()
    optional = set() if coordinates else set(optional_coordinates())
    jars: dict[str, str] = {}
    for coordinate in coordinates or session_coordinates():
        resolved = coordinate_folder(Path(folder), coordinate)
        if not (resolved / COMPLETE_MARKER).exists():
            if coordinate in optional:
                continue
            return []
        for jar in sorted(resolved.glob("*.jar")):
            # Ivy names a jar <group>_<artifact>-<version>.jar; pyspark's jars folder, <artifact>-<version>.jar.
            if jar.name.partition("_")[2] not in shipped:
                jars.setdefault(jar.name, str(jar.resolve()))
    return sorted(jars.values())


def _pyspark_jar_names() -> set[str]:
    import pyspark

    return {jar.name for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}


def coordinate_folder(folder: Path, coordinate: str) -> Path:
    """Where the jars of one coordinate are cached below `folder`."""
    return folder / coordinate.replace(":", "_")


def resolve_jars(dest: str | Path, coordinate: str) -> list[str]:
    """Download a package's jars and their transitive dependencies below `dest` (no-op when done before)."""
    folder = coordinate_folder(Path(dest), coordinate)
    if (folder / COMPLETE_MARKER).exists():
        return cached_jars(dest, [coordinate])

    ivy_home = folder.parent.parent / "ivy" / folder.name  # its jars/ folder gets this coordinate's jars only
    # Packages are resolved when a JVM starts: each coordinate gets a fresh process (and JVM) of its own.
    done = subprocess.run(
        [sys.executable, "-c", _RESOLVE, coordinate, str(ivy_home.resolve())], capture_output=True, text=True
    )
    if done.returncode:  # Ivy's report and the JVM's trace say it at length; one line of it is the reason
        lines = done.stderr.strip().splitlines() or ["no output"]
        reason = next((line for line in lines if "unresolved dependency" in line), lines[-1])
        raise RuntimeError(f"resolving {coordinate} failed: {reason.strip()}")

    artifact = coordinate.split(":")[1]
    resolved = sorted((ivy_home / "jars").glob("*.jar"))
    if not any(artifact in p.name for p in resolved):
        raise RuntimeError(f"resolving {coordinate} produced no {artifact} jar; check access to Maven Central")
    with tempfile.TemporaryDirectory(dir=folder.parent) as staging:
        for jar in resolved:
            shutil.copy2(jar, staging)
        Path(staging, COMPLETE_MARKER).write_text(coordinate + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(staging, folder)
    return cached_jars(dest, [coordinate])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=".cache/jars", help="folder for the resolved jars")
    parser.add_argument(
        "--coordinate", action="append", help="a Maven coordinate to resolve (default: the session's packages)"
    )
    args = parser.parse_args(argv)
    Path(args.dest).mkdir(parents=True, exist_ok=True)
    optional = set() if args.coordinate else set(optional_coordinates())
    for coordinate in args.coordinate or session_coordinates():
        try:
            jars = resolve_jars(args.dest, coordinate)
        except RuntimeError as exc:
            if coordinate not in optional:
                print(f"jars: {exc}", file=sys.stderr)
                return 1
            print(f"{exc} (optional: Kafka sources will not work with this pyspark)")
            continue
        print(f"{len(jars)} jars for {coordinate} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
