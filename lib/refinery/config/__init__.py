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
    """Merge the YAML layers and `key.path=value` overrides into a validated `Config`.

    The packaged defaults (`conf/` of the refinery install) come first; a project folder (`conf_dir`, or the
    working directory when it holds `pipelines/`) layers its own `base.yaml`, `env/<env>.yaml` and pipelines
    on them, so a project needs only what it changes. Relative paths in it are relative to it.
    """
    home = paths.project_root()
    defaults = home / "conf"
    project = project_folder(conf_dir)
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown env '{env}': choose one of {', '.join(ENVIRONMENTS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", pipeline):
        raise ConfigError(f"pipeline name '{pipeline}' must be snake_case (letters, digits, underscores)")
    folders = [defaults] if project is None else [defaults, project]
    candidates = [folder / "pipelines" / f"{pipeline}.yaml" for folder in reversed(folders)]
    pipeline_file = next((path for path in candidates if path.exists()), None)
    if pipeline_file is None:
        known = sorted({p.stem for folder in folders for p in (folder / "pipelines").glob("*.yaml")})
        raise ConfigError(
            f"unknown pipeline '{pipeline}': no {candidates[0]} (known: {', '.join(known) or 'none'}; "
            "`refinery init DIR` starts a project with one)"
        )
    layers = [path for folder in folders for path in (folder / "base.yaml", folder / "env" / f"{env}.yaml")]
    merged = read_layers((*layers, pipeline_file), overrides)
    config = build(Config, {**merged, "pipeline": pipeline, "env": env})
    own = project / "schemas" / pipeline if project else None  # the packaged schemas/ are the kinds' own
    if config.schemas is None and own is not None and own.is_dir():
        config = replace(config, schemas=str(own))
    pipelines.resolve(config.pipeline_kind.check_config)(config)  # the kind's checks against its schemas
    return _with_paths_resolved(config, project or home, home)


def project_folder(conf_dir: str | Path | None = None) -> Path | None:
    """A user's project folder: `conf_dir` when given, else the working directory when it holds `pipelines/`
    (None: the packaged defaults alone)."""
    if conf_dir:
        return Path(conf_dir).resolve()
    here = Path.cwd()
    return here if (here / "pipelines").is_dir() else None


def masked(config: Config) -> dict[str, Any]:
    """The config as a dict with secret-looking values replaced by '***'."""
    # curate.pii maps PII kinds (one is called `secret`) to actions, privacy names where the key is (never the
    # key itself): nothing secret there.
    return mask(config.to_dict(), plain=("pii", "privacy"))


def _with_paths_resolved(config: Config, base: Path, home: Path) -> Config:
    """The lake root and the schemas folder made absolute against the project folder `base`; the jar folder and
    class archive against the first of it, the defaults' folder `home` and refinery's install folder (where
    `make setup` put them) that has them; URIs stay as they are.

    Paths that are part of the config hash (eval sets) keep the value written, so the hash does not depend
    on where the project is checked out; they are resolved with `project_path` where they are read.
    """
    spark = config.spark

    def built(value: str | None) -> str | None:
        if not value:
            return None
        tried = [paths.normalize(value, folder) for folder in (base, home, paths.install_root())]
        there = (found for found in tried if not paths.is_local(found) or Path(paths.local_path(found)).exists())
        return next(there, tried[0])

    return replace(
        config,
        lake=replace(config.lake, root=paths.normalize(config.lake.root, base)),
        spark=replace(spark, jars_dir=built(spark.jars_dir), class_archive=built(spark.class_archive)),
        schemas=paths.normalize(config.schemas, base) if config.schemas else None,
    )


def project_path(value: str) -> str:
    """A path from a config file: relative to the project folder unless absolute or a URI."""
    return paths.normalize(value, paths.project_root())
