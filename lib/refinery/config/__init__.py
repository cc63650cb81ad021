"""Refinery's settings: conf/base.yaml <- conf/env/<env>.yaml <- conf/pipelines/<p>.yaml <- --set k=v.

`load_config` merges the layers (`refinery.config.layers`: YAML, --set, types, unknown keys) into a `Config`
(`refinery.config.sections`), then checks it against its kind's table schemas (`refinery.config.checks`).
Relative paths in config files are relative to the project folder (`refinery.paths.project_root`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from refinery import paths, pipelines
from refinery.config.layers import build, mask, read_layers
from refinery.config.sections import (
    CardConfig,
    Config,
    ConsoleConfig,
    CurateConfig,
    DecontaminationConfig,
    DedupConfig,
    EvalSetConfig,
    LakeConfig,
    MaintainConfig,
    PrivacyConfig,
    PublishConfig,
    SparkConfig,
    StreamConfig,
)
from refinery.config.sources import CsvOptions, IngestConfig, KafkaOptions, SourceConfig
from refinery.config.tabular import TabularConfig
from refinery.errors import ConfigError

ENVIRONMENTS = ("local", "cluster", "databricks")
__all__ = [
    "ENVIRONMENTS",
    "CardConfig",
    "Config",
    "ConsoleConfig",
    "CsvOptions",
    "CurateConfig",
    "DecontaminationConfig",
    "DedupConfig",
    "EvalSetConfig",
    "IngestConfig",
    "KafkaOptions",
    "LakeConfig",
    "MaintainConfig",
    "PrivacyConfig",
    "PublishConfig",
    "SourceConfig",
    "SparkConfig",
    "StreamConfig",
    "TabularConfig",
    "load_config",
    "masked",
    "project_path",
]


def load_config(
    pipeline: str = "web_text",
    env: str = "local",
    overrides: list[str] | tuple[str, ...] = (),
    conf_dir: str | Path | None = None,
) -> Config:
    """Merge the YAML layers and `key.path=value` overrides into a validated `Config`."""
    base = paths.project_root()
    conf_dir = Path(conf_dir) if conf_dir else base / "conf"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown env '{env}': choose one of {', '.join(ENVIRONMENTS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", pipeline):
        raise ConfigError(f"pipeline name '{pipeline}' must be snake_case (letters, digits, underscores)")
    pipeline_file = conf_dir / "pipelines" / f"{pipeline}.yaml"
    if not pipeline_file.exists():
        known = sorted(p.stem for p in (conf_dir / "pipelines").glob("*.yaml"))
        raise ConfigError(f"unknown pipeline '{pipeline}': no {pipeline_file} (known: {', '.join(known) or 'none'})")
    merged = read_layers((conf_dir / "base.yaml", conf_dir / "env" / f"{env}.yaml", pipeline_file), overrides)
    config = build(Config, {**merged, "pipeline": pipeline, "env": env})
    pipelines.resolve(config.pipeline_kind.check_config)(config)  # the kind's checks against its schemas
    return _with_paths_resolved(config, base)


def masked(config: Config) -> dict[str, Any]:
    """The config as a dict with secret-looking values replaced by '***'."""
    # curate.pii maps PII kinds (one is called `secret`) to actions, privacy names where the key is (never the
    # key itself): nothing secret there.
    return mask(config.to_dict(), plain=("pii", "privacy"))


def _with_paths_resolved(config: Config, base: Path) -> Config:
    """The lake root, jar folder and class archive made absolute against the project folder (URIs stay as they are).

    Paths that are part of the config hash (eval sets) keep the value written, so the hash does not depend
    on where the project is checked out; they are resolved with `project_path` where they are read.
    """
    spark = config.spark
    return replace(
        config,
        lake=replace(config.lake, root=paths.normalize(config.lake.root, base)),
        spark=replace(
            spark,
            jars_dir=paths.normalize(spark.jars_dir, base) if spark.jars_dir else None,
            class_archive=paths.normalize(spark.class_archive, base) if spark.class_archive else None,
        ),
    )


def project_path(value: str) -> str:
    """A path from a config file: relative to the project folder unless absolute or a URI."""
    return paths.normalize(value, paths.project_root())
