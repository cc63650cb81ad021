"""A JVM class-data archive for local mode: every `refinery` command starts its JVM seconds sooner.

A local command starts a JVM that loads about 30,000 classes, and verifies and parses each from its jar
before the first job runs. Java's class-data sharing (CDS) maps already parsed and verified classes from an
archive instead. `make setup` builds the archive once, into the ignored `.cache/`:

1. run the bundled sample through every stage in a JVM that lists the classes it loads;
2. dump those classes, from the same class path, into `spark.class_archive` (`java -Xshare:dump`).

The first `make run` builds it with its own run (`--lake`: the sample's run goes into that lake, with its
summary), so a fresh checkout runs the sample once, not once for the archive and once more for the user.

`refinery.session` then starts local JVMs with `-XX:SharedArchiveFile`. A JVM whose class path or Java
no longer matches the archive (pyspark or Java upgraded) logs a warning to the Spark log and starts the
usual way; `make setup` builds a new one. Clusters and Databricks start their JVMs themselves: the archive
is for local mode only.

    python -m refinery.class_archive            # the path comes from conf/env/local.yaml
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from refinery import paths
from refinery.config import load_config
from refinery.session import DRIVER_JAVA_OPTIONS


def build(archive: Path, pipeline: str = "web_text", lake: Path | None = None) -> int:
    """Run the sample pipeline while listing loaded classes, dump them into `archive`; return its size in bytes.
    The run goes into a scratch lake, or into `lake` (whose raw folder holds the sample) with its summary."""
    from refinery import cli
    from refinery.session import get_session

    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.unlink(missing_ok=True)  # the listing JVM must load every class itself, not map an old archive
    with tempfile.TemporaryDirectory(prefix="refinery-cds-") as scratch:
        class_list = Path(scratch) / "classes.lst"
        listing = f"spark.conf.{DRIVER_JAVA_OPTIONS}=-XX:DumpLoadedClassList={class_list}"
        config = load_config(pipeline, "local", [listing])
        spark = get_session(config.spark)  # the command below reuses this session and its JVM
        quiet = ["-q"] if lake is None else []
        if lake is None:
            lake = Path(scratch) / "lake"
            raw = lake / "raw" / pipeline
            raw.mkdir(parents=True)
            for sample in (paths.project_root() / "data" / "sample" / pipeline).glob("*.jsonl*"):
                (raw / sample.name).write_bytes(sample.read_bytes())
        status = cli.main(["run", "--pipeline", pipeline, "--env", "local", "--lake", str(lake), *quiet])
        if status:
            raise SystemExit(f"class archive: the sample run failed (exit {status})")
        jvm = spark.sparkContext._jvm
        java = Path(jvm.System.getProperty("java.home")) / "bin" / "java"
        class_path = jvm.System.getProperty("java.class.path")
        spark.stop()
        dump = [
            str(java),
            "-Xshare:dump",
            f"-XX:SharedClassListFile={class_list}",
            f"-XX:SharedArchiveFile={archive}",
            "-cp",
            class_path,
        ]
        result = subprocess.run(dump, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not archive.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise SystemExit(f"class archive: java -Xshare:dump failed: {' | '.join(tail)}")
    return archive.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refinery.class_archive", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="run the sample into this lake (its raw folder seeded)")
    parser.add_argument("--pipeline", default="web_text", help="the sample pipeline to run")
    args = parser.parse_args(argv)
    archive = load_config(args.pipeline, "local").spark.class_archive
    if not archive:
        print("class archive: spark.class_archive is not set in conf/env/local.yaml; nothing to build")
        if args.lake is not None:  # the run was asked for all the same
            from refinery import cli

            return cli.main(["run", "--pipeline", args.pipeline, "--env", "local", "--lake", str(args.lake)])
        return 0
    size = build(Path(archive), args.pipeline, args.lake)
    print(f"class archive: {archive} ({size / 2**20:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
