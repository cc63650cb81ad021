"""Layered YAML settings into frozen dataclasses: no domain types here.

`read_layers` merges YAML files (later ones win, mapping by mapping) and `key.path=value` overrides;
`build` turns the merged mapping into a dataclass tree, rejecting unknown keys and wrong types with a
`ConfigError` that names the full key. A dataclass checks its own values in `__post_init__` by raising
`ParameterError(field, problem)`; `build` prefixes the section it was read from. `mask` hides values
of secret-looking keys.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml

from refinery.errors import ConfigError, ParameterError
from refinery.paths import shown

_INT64 = (-(2**63), 2**63 - 1)
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|credential|access[._-]?key|account[._-]?key|private[._-]?key|keyfile|sas|jaas)",
    re.I,
)
_SECRET_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")  # a PEM key, whatever the setting is called


def read_layers(files: Iterable[Path], overrides: Iterable[str] = ()) -> dict[str, Any]:
    """The YAML files merged in order (a missing file is an empty layer), then the overrides."""
    merged: dict[str, Any] = {}
    for path in files:
        merged = deep_merge(merged, read_yaml(path))
    for override in overrides:
        merged = deep_merge(merged, parse_override(override))
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """`publish.splits.train=0.8` -> {'publish': {'splits': {'train': 0.8}}} (the value is read as YAML)."""
    key, sep, raw_value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w.\-]*", key.strip()):
        raise ConfigError(f"--set expects key.path=value, got '{text}'")
    try:
        value = yaml.load(raw_value, Loader=_UniqueKeyLoader) if raw_value.strip() else None  # noqa: S506
    except (yaml.YAMLError, ConfigError) as exc:
        raise ConfigError(f"--set {key}: value is not valid YAML ({exc.__class__.__name__})") from None
    nested: dict[str, Any] = {}
    cursor = nested
    parts = key.strip().split(".")
    # spark.conf keys contain dots themselves: everything after `spark.conf.` is one key.
    if parts[:2] == ["spark", "conf"] and len(parts) > 2:
        parts = ["spark", "conf", ".".join(parts[2:])]
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return nested


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `update` over `base`, merging nested mappings key by key (`{}` clears a mapping)."""
    merged = dict(base)
    for key, value in update.items():
        if value and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{where or '<root>'}': expected a mapping, got {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown config key '{_join(where, key)}' (allowed here: {', '.join(known)})")
    values = {key: _coerce(hints[key], value, _join(where, key)) for key, value in data.items()}
    try:
        return cls(**values)
    except ParameterError as exc:  # a dataclass's own check: name the full key
        raise ConfigError(f"config key '{_join(where, exc.field)}': {exc.problem}") from None
    except TypeError as exc:  # a required field without a value
        raise ConfigError(f"config section '{where or '<root>'}': {exc}") from None


def to_plain(value: Any) -> Any:
    """Dataclasses as dicts of their settable fields (derived state left out), recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def mask(value: Any, key: str = "", plain: tuple[str, ...] = ()) -> Any:
    """`value` with the values of secret-looking keys, and private keys, replaced by '***', and the userinfo of URIs
    (`s3a://KEY:SECRET@bucket`) by `***` (mappings named in `plain` as is)."""
    if isinstance(value, dict):
        if key in plain:
            return value
        return {k: mask(v, str(k), plain) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, key, plain) for v in value]
    if value is not None and (_SECRET_KEY.search(key) or _SECRET_VALUE.search(str(value))):
        return "***"
    return shown(value) if isinstance(value, str) else value


def read_yaml(path: Path) -> dict[str, Any]:
    """One YAML layer (a mapping; {} when the file does not exist). A repeated key is an error."""
    if not path.exists():
        return {}
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_null = [a for a in args if a is not type(None)]
        return _coerce(non_null[0], value, where)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"config key '{where}': expected one of {choices}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{where}': expected a mapping, got {_type_name(value)}")
        key_type, value_type = args
        return {_coerce(key_type, k, f"{where}.{k}"): _coerce(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"config key '{where}': expected a list, got {_type_name(value)}")
        items = [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
        return items if origin is list else tuple(items)
    return _scalar(hint, value, where)


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and where.startswith("spark.conf") and isinstance(value, (int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)  # Spark settings are strings
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"config key '{where}': expected {hint.__name__}, got {_type_name(value)} {value!r}")
    if hint is int and not _INT64[0] <= value <= _INT64[1]:
        raise ConfigError(f"config key '{where}': {value} does not fit in a 64-bit integer")
    if hint is float and value != value:  # NaN compares false with every bound
        raise ConfigError(f"config key '{where}': NaN is not a number a threshold can use")
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a mapping with a repeated key (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"key '{key}' appears twice in one mapping (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__
