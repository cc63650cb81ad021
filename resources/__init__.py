"""The bundle's job, declared in Python (databricks-bundles): refinery's stages as chained tasks.

`databricks bundle deploy` calls `load_resources` with the target's variables (databricks.yml); the tests
call it the same way and check the result offline. Every task runs the wheel's `refinery` entry point with
the job's parameters, so a run can override the pipeline, lake, catalog or release name.
"""

from __future__ import annotations

from typing import Any

from databricks.bundles.core import Bundle, Resources, Variable, variables
from databricks.bundles.jobs import Job

from refinery.config import load_config

WHEEL = "../dist/*.whl"  # relative to this file: the artifact databricks.yml builds
ENTRY_POINT = "refinery"  # [project.scripts] in pyproject.toml
CLUSTER_KEY = "refinery"
ENVIRONMENT_KEY = "refinery"
# Hours a task may run before it is stopped; the lease a stopped task held expires after lake.lease_ttl_seconds.
TIMEOUT_HOURS = {"ingest": 4, "curate": 8, "dedup": 8, "publish": 4, "release": 1}
DEFAULT_TIMEOUT_HOURS = 8  # a stage not listed above
RETRIES = 2
RETRY_AFTER_MS = 5 * 60 * 1000  # longer than the writer lease's ttl (180 s): a retry finds the lease expired
SCHEDULE = "0 0 3 * * ?"  # daily at 03:00 UTC


@variables
class Vars:
    pipeline: Variable[str]
    lake_root: Variable[str]
    catalog: Variable[str]
    schema: Variable[str]
    release_name: Variable[str]
    serverless: Variable[bool]
    spark_version: Variable[str]
    node_type: Variable[str]
    min_workers: Variable[int]
    max_workers: Variable[int]
    schedule_pause: Variable[str]


def load_resources(bundle: Bundle) -> Resources:
    resources = Resources()
    resources.add_job("refinery", refinery_job(bundle))
    return resources


def pipeline_stages(pipeline: str) -> tuple[str, ...]:
    """The stages of the pipeline the job is deployed for: its kind decides (record data has no dedup). A run
    may pass another pipeline as its parameter: one of the same kind."""
    return load_config(pipeline, "databricks").pipeline_kind.stage_names


def refinery_job(bundle: Bundle) -> Job:
    """The pipeline's stages (ingest -> curate -> dedup -> publish for text) -> (when a release name is
    given) release."""
    serverless = _is_true(bundle.resolve_variable(Vars.serverless))
    compute = _serverless_compute if serverless else _cluster_compute
    stages = pipeline_stages(str(bundle.resolve_variable(Vars.pipeline)))
    tasks = []
    previous = None
    for stage in stages:
        tasks.append(_task(stage, [stage, *_common_args()], previous, compute))
        previous = stage
    tasks.append(
        {
            "task_key": "has_release_name",
            "depends_on": [{"task_key": previous}],
            "condition_task": {"op": "NOT_EQUAL", "left": "{{job.parameters.release}}", "right": ""},
        }
    )
    release_args = ["release", "create", "{{job.parameters.release}}", *_common_args()]
    release = _task("release", release_args, None, compute)
    release["depends_on"] = [{"task_key": "has_release_name", "outcome": "true"}]
    tasks.append(release)
    job: dict[str, Any] = {
        "name": f"refinery-{bundle.resolve_variable(Vars.pipeline)}",
        "description": f"Raw lake files through {', '.join(stages)} into gold (-> a named release)",
        "max_concurrent_runs": 1,  # the pipeline's writer lease would make a second run wait anyway
        "parameters": [
            {"name": "pipeline", "default": bundle.resolve_variable(Vars.pipeline)},
            {"name": "lake", "default": bundle.resolve_variable(Vars.lake_root)},
            {"name": "catalog", "default": bundle.resolve_variable(Vars.catalog)},
            {"name": "schema", "default": bundle.resolve_variable(Vars.schema)},
            {"name": "release", "default": bundle.resolve_variable(Vars.release_name)},
        ],
        "schedule": {
            "quartz_cron_expression": SCHEDULE,
            "timezone_id": "UTC",
            "pause_status": bundle.resolve_variable(Vars.schedule_pause),
        },
        "tasks": tasks,
    }
    if serverless:
        job["environments"] = [
            {"environment_key": ENVIRONMENT_KEY, "spec": {"environment_version": "3", "dependencies": [WHEEL]}}
        ]
    else:
        job["job_clusters"] = [{"job_cluster_key": CLUSTER_KEY, "new_cluster": _new_cluster(bundle)}]
    return Job.from_dict(job)  # typed: an unknown or misspelt field fails here, at deploy and in the tests


def _common_args() -> list[str]:
    return [
        *("--pipeline", "{{job.parameters.pipeline}}"),
        *("--env", "databricks"),
        *("--lake", "{{job.parameters.lake}}"),
        *("--set", "lake.catalog={{job.parameters.catalog}}"),
        *("--set", "lake.schema={{job.parameters.schema}}"),
    ]


def _task(key: str, parameters: list[str], after: str | None, compute) -> dict[str, Any]:
    task = {
        "task_key": key,
        "python_wheel_task": {"package_name": "refinery", "entry_point": ENTRY_POINT, "parameters": parameters},
        "max_retries": RETRIES,
        "min_retry_interval_millis": RETRY_AFTER_MS,
        "retry_on_timeout": True,  # every stage is idempotent: a retry resumes or redoes, never doubles
        "timeout_seconds": TIMEOUT_HOURS.get(key, DEFAULT_TIMEOUT_HOURS) * 3600,
        **compute(),
    }
    if after:
        task["depends_on"] = [{"task_key": after}]
    return task


def _cluster_compute() -> dict[str, Any]:
    return {"job_cluster_key": CLUSTER_KEY, "libraries": [{"whl": WHEEL}]}


def _serverless_compute() -> dict[str, Any]:
    return {"environment_key": ENVIRONMENT_KEY}


def _new_cluster(bundle: Bundle) -> dict[str, Any]:
    return {
        "spark_version": bundle.resolve_variable(Vars.spark_version),
        "node_type_id": bundle.resolve_variable(Vars.node_type),
        "autoscale": {
            "min_workers": int(bundle.resolve_variable(Vars.min_workers)),
            "max_workers": int(bundle.resolve_variable(Vars.max_workers)),
        },
        "data_security_mode": "SINGLE_USER",  # Python UDFs and data sources, Unity Catalog tables
    }


def _is_true(value: object) -> bool:
    return value is True or str(value).lower() == "true"
