"""The privacy key that pseudonyms and deletion tombstones are keyed with: never in config, never logged.

It is read from the environment variable `privacy.key_env`, or, when `privacy.secret_scope` is set (Databricks),
from that secret scope. A run that needs it and cannot find it stops before any work, with one line that names
where it looked and never the value.
"""

from __future__ import annotations

import os

from refinery.config import Config, PrivacyConfig
from refinery.errors import ConfigError

MIN_KEY_BYTES = 16  # HMAC-SHA256 keys shorter than this are refused (32 random bytes recommended)


class MissingKeyError(ConfigError):
    """The privacy key is needed and not available (or too short)."""


KEYED_COMMANDS = ("forget",)  # need the key whatever the config says
PSEUDONYM_STAGES = ("curate", "stream")  # need it when the config makes pseudonyms


def check_key_available(config: Config, stages: list[str]) -> None:
    """Before the JVM starts: when the command needs the key, the environment must hold a usable one (a secret
    scope is checked when the session exists, by `privacy_key`)."""
    needed = set(stages) & set(KEYED_COMMANDS) or (config.needs_privacy_key and set(stages) & set(PSEUDONYM_STAGES))
    if needed and not config.privacy.secret_scope:
        _checked(os.environ.get(config.privacy.key_env), config.privacy)


def privacy_key(cfg: PrivacyConfig, spark=None) -> bytes:
    """The key, from the secret scope when one is configured, else from the environment variable."""
    if cfg.secret_scope:
        return _checked(_secret(spark, cfg.secret_scope, cfg.secret_key), cfg)
    return _checked(os.environ.get(cfg.key_env), cfg)


def _secret(spark, scope: str, key: str) -> str | None:
    try:
        from pyspark.dbutils import DBUtils  # Databricks runtimes only
    except ImportError:
        raise MissingKeyError(
            f"privacy.secret_scope '{scope}' is set but Databricks secrets are not available here; "
            "unset it and use privacy.key_env"
        ) from None
    try:
        return DBUtils(spark).secrets.get(scope=scope, key=key)
    except Exception as exc:  # the secret or the scope does not exist, or no permission
        problem = type(exc).__name__
        raise MissingKeyError(f"privacy key: cannot read '{key}' from secret scope '{scope}' ({problem})") from None


def _checked(value: str | None, cfg: PrivacyConfig) -> bytes:
    where = f"secret '{cfg.secret_key}' of scope '{cfg.secret_scope}'" if cfg.secret_scope else cfg.key_env
    if not value:
        raise MissingKeyError(
            f"pseudonyms or deletion tombstones need the privacy key and no privacy key is set: put one "
            f"({MIN_KEY_BYTES}+ bytes) in {where}"
        )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise MissingKeyError(f"the privacy key in {where} is shorter than {MIN_KEY_BYTES} bytes")
    return key
