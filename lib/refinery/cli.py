"""The `refinery` command. Exit codes: 0 ok, 1 a stage failed, 2 bad usage, config or input
(refinery.errors.UsageError)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from refinery import paths, pipelines, tables
from refinery.commands.doctor import doctor, say_torn
from refinery.commands.preflight import check_inputs
from refinery.commands.summary import SUMMARY_WIDTH, format_summary  # noqa: F401 - tests read the width here
from refinery.config import ENVIRONMENTS, Config, load_config, masked
from refinery.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PipelineBusyError, UsageError
from refinery.privacy.keys import check_key_available

log = logging.getLogger("refinery")


def _stage_help() -> dict[str, str]:
    """A command per stage any kind declares, described as the first kind that has it describes it."""
    described: dict[str, str] = {}
    for kind in pipelines.KINDS.values():
        for stage in kind.stages:
            described.setdefault(stage.name, f"{stage.reads} -> {stage.writes}: {stage.does}")
    return described


# Every command with its one-line description (`refinery --help`, `refinery COMMAND --help`).
COMMANDS = {
    "run": "run every stage of the pipeline's kind (text: ingest, curate, dedup, publish) on its new raw files",
    **_stage_help(),
    "stream": "raw -> bronze -> silver continuously (or once with --once), with checkpoints",
    "maintain": "OPTIMIZE, VACUUM and checkpoint the pipeline's tables (releases stay readable)",
    "conf": "print the resolved config (secrets masked)",
    "release": "create, list or show named releases of gold",
    "card": "write a dataset card (card.md + PNG plots) of gold or a release",
    "explain": "where a document came from and what each stage decided (from the tables)",
    "profile": "column profiles of a table and suggested expectations (YAML to paste under tabular:)",
    "forget": "remove a subject from every table, release and raw file; purge the bytes; keep a keyed tombstone",
    "doctor": "find torn Delta commits in a local lake, without a JVM; --repair rolls their tables back before them",
    "init": "start a project folder of your own (pipelines, schemas) on the packaged defaults, from a sample file",
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--pipeline", default="web_text", help="pipeline name (conf/pipelines/<name>.yaml)")
    common.add_argument("--env", default="local", choices=ENVIRONMENTS, help="environment overlay (conf/env/)")
    common.add_argument("--lake", help="lake root (overrides lake.root)")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set publish.num_shards=16 (repeatable)",
    )
    common.add_argument("--conf-dir", help="folder with base.yaml, env/ and pipelines/ (default: ./conf)")
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    common.add_argument(
        "--strict", action="store_true", help="a warning (a file without records, a stage rejecting all) fails the run"
    )
    common.add_argument(
        "--spark-log", action="store_true", help="show Spark's own log lines on stderr (console.spark_log=console)"
    )

    parser = argparse.ArgumentParser(prog="refinery", description="Raw lake data -> versioned Delta tables for ML.")
    parser.add_argument("--version", action="version", version=f"refinery {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = {
        name: commands.add_parser(name, parents=[common], help=text, description=text)
        for name, text in COMMANDS.items()
    }
    for name in ("run", *pipelines.STAGE_NAMES):
        sub[name].add_argument(
            "--full-refresh",
            action="store_true",
            help="rebuild each output from all of its input (curate and dedup otherwise add only new rows)",
        )
    sub["stream"].add_argument("--once", action="store_true", help="process what is there now, then exit")
    sub["release"].add_argument("action", choices=("create", "list", "show"), help="what to do")
    sub["release"].add_argument("name", nargs="?", help="release name (create, show)")
    sub["card"].add_argument("--release", help="describe this release (default: the current gold)")
    sub["card"].add_argument("--out", required=True, help="folder for card.md and the plots")
    sub["profile"].add_argument("--layer", default="bronze", choices=("bronze", "silver", "gold"), help="table")
    sub["explain"].add_argument("doc_id", help="the document's id (bronze's doc_id)")
    sub["explain"].add_argument("--json", action="store_true", help="print the explanation as JSON")
    forget = sub["forget"]
    forget.add_argument("--doc-id", action="append", default=[], metavar="ID", help="a document id (repeatable)")
    forget.add_argument("--url-prefix", action="append", default=[], metavar="PREFIX", help="a site's opt-out")
    forget.add_argument("--field", action="append", default=[], metavar="meta.KEY=VALUE", help="an author or user")
    forget.add_argument("--contains", action="append", default=[], metavar="VALUE", help="a literal, e.g. an e-mail")
    forget.add_argument("--requests", metavar="FILE", help='JSONL of requests: {"doc_id": ...}, {"contains": ...}')
    forget.add_argument("--dry-run", action="store_true", help="report what each request matches; change nothing")
    forget.add_argument(
        "--allow-no-match", action="store_true", help="exit 0 when a new request matches nothing (its tombstone stays)"
    )
    forget.add_argument("--resume", action="store_true", help="finish a forget killed before its end (no request)")
    sub["doctor"].add_argument("--repair", action="store_true", help="set torn commits (and later ones) aside")
    init = sub["init"]
    init.add_argument("folder", help="the project folder (made if missing)")
    init.add_argument("--from", dest="sample", metavar="FILE", help="a sample: WARC/ARC/WET, JSONL, CSV, Parquet")
    init.add_argument("--kind", choices=tuple(pipelines.KINDS), help="text or tabular (default: from the sample)")
    init.add_argument("--name", help="the pipeline's name (default: the folder's)")
    init.add_argument("--label", help="record data: the training label's column (default: guessed)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refinery")
    except PackageNotFoundError:  # run from a source checkout without an install
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line message
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    _configure_logging(args.quiet)
    try:
        if args.command == "init":
            from refinery.commands.init import init_project  # its profiler imports pyspark (no JVM)

            sample = Path(args.sample) if args.sample else None
            found = init_project(Path(args.folder), name=args.name, kind=args.kind, sample=sample, label=args.label)
            print("\n".join(found))
            return EXIT_OK
        config = _load(args)
        if args.command == "conf":
            print(yaml.safe_dump(masked(config), sort_keys=False), end="")
            return EXIT_OK
        if args.command == "stream":
            return _run(config, ["stream"], lambda ctx: _stream(ctx, once=args.once))
        if args.command == "forget":
            requests = _requests(args)
            outcome = _forget_outcome(args.allow_no_match)
            return _run(config, ["forget"], _forget(requests, dry_run=args.dry_run), outcome=outcome)
        if args.command == "release":
            return _release(config, args.action, args.name)
        if args.command == "card":
            return _card(config, args.release, args.out)
        if args.command == "profile":
            return _profile(config, args.layer)
        if args.command == "explain":
            config.pipeline_kind.check_command(config.pipeline, "explain")
            return _explain(config, args.doc_id, as_json=args.json)
        if args.command == "maintain":
            return _run(config, ["maintain"])
        if args.command == "doctor":
            return doctor(config.lake.root, repair_them=args.repair)
        stages = list(config.pipeline_kind.stage_names) if args.command == "run" else [args.command]
        return _run(config, stages, strict=args.strict, full_refresh=args.full_refresh)
    except UsageError as exc:  # bad usage, config or inputs: one line, exit 2
        print(f"refinery: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PipelineBusyError as exc:  # another run kept the pipeline past lake.lease_wait_seconds
        print(f"refinery: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _load(args: argparse.Namespace) -> Config:
    overrides = [*args.overrides, *(["console.spark_log=console"] if args.spark_log else [])]
    config = load_config(args.pipeline, args.env, overrides, conf_dir=args.conf_dir)
    if args.lake:  # a path typed on the command line is relative to the working directory
        config = replace(config, lake=replace(config.lake, root=paths.normalize(args.lake)))
    if paths.is_local(config.lake.root) and Path(paths.local_path(config.lake.root)).is_file():
        raise UsageError(f"lake root {config.lake.root} is a file: point --lake (or lake.root) at a folder")
    return config


def _run(
    config: Config,
    stage_names: list[str],
    work: Callable | None = None,
    outcome: Callable | None = None,
    *,
    strict: bool = False,
    full_refresh: bool = False,
) -> int:
    """Run stages (or `work`: the stream, a forget) under the pipeline's lease and print the summary (of the
    stages that finished, when one fails); `outcome` turns the results into the exit code (default: 0). With
    `strict`, a stage's warning stops the run and fails it; with `full_refresh`, every stage rebuilds."""
    check_inputs(config, stage_names)  # before the JVM starts: a usage error in well under a second
    check_key_available(config, stage_names)
    if say_torn(config.lake.root):  # never commit on top of a torn commit
        return EXIT_FAILED
    from refinery.lake.store import Lake
    from refinery.session import get_session, spark_log_file
    from refinery.stages import run_stages
    from refinery.stages.base import StageContext, StageFailed

    clock = time.perf_counter()
    spark = get_session(config.spark, spark_log=config.console.spark_log, private_files=config.lake.private_files)
    ctx = StageContext(spark=spark, config=config, lake=Lake(spark, config.lake), full_refresh=full_refresh)
    command = " ".join(stage_names)
    print(
        f"refinery {command} · pipeline {config.pipeline} · env {config.env} · lake {paths.shown(ctx.lake.root)} "
        f"· run {ctx.run_id}"
    )
    try:
        with _lease(ctx.lake, config, ctx.run_id):
            results = work(ctx) if work else run_stages(ctx, stage_names, strict=strict)
    except (UsageError, PipelineBusyError):  # one line and exit 2 (or 1, busy) from `main`
        raise
    except Exception as exc:  # a stage failed (its ledger row says so), or the lake could not be read or written
        from refinery.stages.base import describe_error

        if finished := getattr(exc, "finished", None):
            print(format_summary(finished, time.perf_counter() - clock))
        where = f"ledger: {ctx.lake.table('runs')}, run {ctx.run_id}"
        said = str(exc) if isinstance(exc, StageFailed) else f"{command} failed: {describe_error(exc)}"
        print(f"refinery: {said} ({where})", file=sys.stderr)
        say_torn(config.lake.root)
        if log_file := spark_log_file(spark):
            print(f"refinery: Spark's own log: {log_file}", file=sys.stderr)
        return EXIT_FAILED
    print(format_summary(results, time.perf_counter() - clock))
    return outcome(results) if outcome else EXIT_OK


def _lease(lake, config: Config, run_id: str):
    """The pipeline's writer lease for the block (see refinery.lake.lease)."""
    from refinery.lake.lease import PipelineLease

    return PipelineLease(
        lake,
        config.pipeline,
        run_id,
        ttl_seconds=config.lake.lease_ttl_seconds,
        wait_seconds=config.lake.lease_wait_seconds,
    )


def _lake(config: Config):
    from refinery.lake.store import Lake
    from refinery.session import get_session

    spark = get_session(config.spark, spark_log=config.console.spark_log, private_files=config.lake.private_files)
    return Lake(spark, config.lake)


def _release(config: Config, action: str, name: str | None) -> int:
    """`refinery release create NAME | list | show NAME`."""
    from refinery.commands.release_report import format_release, format_release_list
    from refinery.lake import releases

    if action in ("create", "show") and not name:
        print(f"refinery: error: release {action} needs a NAME", file=sys.stderr)
        return EXIT_USAGE
    if action == "create":
        tables.check_release_name(name)  # before the JVM and the lease: a bad name is refused at once
        if say_torn(config.lake.root):
            return EXIT_FAILED
    if action == "create":
        from refinery.stages.base import new_run_id

        lake = _lake(config)
        with _lease(lake, config, new_run_id()):
            release, created = releases.create_release(lake, config, name)
        verb = "created" if created else "already exists:"
        print(f"release {release.name} {verb} gold version {release.gold_version} -> {release.table}")
        print(format_release(release))
        return EXIT_OK
    from refinery.lake.lookups import release_records

    found = release_records(_lookups(config), config.pipeline)  # list and show read the releases table only
    if action == "list":
        print(format_release_list(found))
    else:
        release = next((r for r in found if r.name == name), None)
        if release is None:
            raise releases.release_not_found(config.pipeline, name)
        print(format_release(release))
    return EXIT_OK


def _card(config: Config, release: str | None, out: str) -> int:
    write_card = pipelines.resolve(config.pipeline_kind.card)
    path = write_card(_lake(config), config, out, release=release)
    print(f"wrote {path}")
    return EXIT_OK


def _profile(config: Config, layer: str) -> int:
    from refinery.commands.profile import profile_report

    print(profile_report(_lake(config), config, layer), end="")
    return EXIT_OK


def _stream(ctx, *, once: bool):
    """Run `refinery stream` until SIGINT/SIGTERM (or one cycle with --once), stopping at a batch boundary."""
    import signal
    import threading

    from refinery.stages.base import StageContext
    from refinery.stages.stream import run_stream

    stop = threading.Event()

    def request_stop(signum, _frame):
        log.warning("received %s: stopping after the current micro-batch", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run_stream(lambda: StageContext(spark=ctx.spark, config=ctx.config, lake=ctx.lake), once=once, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _requests(args: argparse.Namespace) -> list:
    """The deletion requests of `refinery forget`'s flags and requests file (at least one)."""
    from refinery.privacy.deletion import Request, field_request, read_requests

    requests = [Request("doc_id", v) for v in args.doc_id] + [Request("url_prefix", v) for v in args.url_prefix]
    requests += [field_request(v) for v in args.field] + [Request("contains", v) for v in args.contains]
    if args.requests:
        requests += read_requests(args.requests)
    if not requests and not args.resume:
        raise UsageError(
            "forget needs at least one of --doc-id, --url-prefix, --field, --contains, --requests (or --resume)"
        )
    if requests and args.resume:
        raise UsageError("forget --resume takes no request: every forget finishes an interrupted one first")
    return requests


def _forget(requests: list, *, dry_run: bool) -> Callable:
    def work(ctx):
        from refinery.stages import forget
        from refinery.stages.base import execute

        return [execute(ctx, "forget", lambda c: forget.run(c, requests, dry_run=dry_run))]

    return work


def _forget_outcome(allow_no_match: bool) -> Callable:
    """Exit 1, in one line, when a new request matched nothing in any table, release or raw file (its tombstone
    is kept: a later delivery of the subject is still rejected), unless --allow-no-match."""

    def outcome(results) -> int:
        from refinery.stages.forget import UNMATCHED

        unmatched = results[-1].metrics.get(UNMATCHED, "").split()
        if not unmatched or allow_no_match:
            return EXIT_OK
        numbers = ", ".join(unmatched)
        print(
            f"refinery: forget: request(s) {numbers} matched nothing; their tombstones are kept "
            "(--allow-no-match exits 0)",
            file=sys.stderr,
        )
        return EXIT_FAILED

    return outcome


def _lookups(config: Config):
    """A reader of the lake's small lookups: without a JVM on a path lake, through Spark on a catalog lake."""
    from refinery.lake.lookups import ArrowLookups, SparkLookups

    return SparkLookups(_lake(config)) if config.lake.catalog else ArrowLookups(config.lake.root)


def _explain(config: Config, doc_id: str, *, as_json: bool) -> int:
    from refinery.commands.explain import explain, format_explanation

    found = explain(_lookups(config), config, doc_id)
    print(json.dumps(found, indent=2, default=str) if as_json else format_explanation(found))
    return EXIT_OK


def _configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
