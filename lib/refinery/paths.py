"""Paths and URIs, in one place: which are local, how they join, what is relative to what.

A location is either local (`/data/lake`, `file:/data/lake`, `file:///data/lake`, a FUSE mount such as
`/dbfs/...`) or a URI with a scheme of its own (`s3a://bucket/lake`, `abfss://c@a.dfs.core.windows.net/x`,
`dbfs:/lake`, `hdfs://nn/lake`, or any custom scheme Hadoop is configured for). Local paths are made
absolute; URIs are kept as written, less trailing slashes. Relative paths in config files are relative
to the project folder (`project_root`); paths typed on the command line are relative to the working
directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: `C:` is not a scheme
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+://)[^/@\s]*@")  # `s3a://KEY:SECRET@bucket` -> the part before @


def project_root() -> Path:
    """The folder holding conf/ and schemas/: $REFINERY_HOME, the working directory, the source checkout,
    or the copy an installed wheel carries (`refinery/_home`, made by setup.py)."""
    if home := os.environ.get("REFINERY_HOME"):
        return Path(home).resolve()
    package = Path(__file__).resolve().parent
    for candidate in (Path.cwd(), package.parents[1], package / "_home"):
        if (candidate / "conf" / "base.yaml").exists():
            return candidate
    return package.parents[1]


def install_root() -> Path:
    """The folder refinery itself was installed from (its source checkout, where `make setup` caches the jars),
    or the copy of the project files an installed wheel carries."""
    package = Path(__file__).resolve().parent
    checkout = package.parents[1]
    return checkout if (checkout / "conf" / "base.yaml").exists() else package / "_home"


def scheme(location: str) -> str | None:
    """The URI scheme (lower case), or None for a plain local path."""
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else None


def is_local(location: str) -> bool:
    """A plain path or a `file:` URI: something `os` can open."""
    return scheme(location) in (None, "file")


def local_path(location: str) -> str:
    """A local location without its `file:` scheme (`file:///a/b` and `file:/a/b` -> `/a/b`)."""
    return re.sub(r"^file:(//)?", "", location, flags=re.IGNORECASE)


def normalize(location: str, base: str | Path | None = None, *, resolve_links: bool = True) -> str:
    """An absolute local path (relative ones against `base`, else the working directory; symbolic links resolved
    unless `resolve_links` is false), or the URI as written without trailing slashes (`dbfs:/` stays `dbfs:/`)."""
    if not is_local(location):
        stripped = location.rstrip("/")
        return stripped if not stripped.endswith(":") else stripped + "/"
    path = Path(local_path(location)).expanduser()
    if not path.is_absolute():
        path = Path(base or Path.cwd()) / path
    if not resolve_links:  # a file below a resolved root: a link keeps its own name, as Spark's listing gives it
        return os.path.normpath(path)
    return str(path.resolve())  # symlinks resolved, as the local file listing sees them


def join(root: str, *parts: str) -> str:
    """`root/part/...`: for local roots an absolute path, for URIs the URI with the parts appended."""
    root = normalize(root)
    if not parts:
        return root
    if is_local(root):
        return os.path.join(root, *parts)
    return root.rstrip("/") + "/" + "/".join(part.strip("/") for part in parts)


def relative_to(location: str, root: str) -> str | None:
    """`location` relative to `root` ('file:/lake/raw/p/a/b.jsonl', '/lake/raw/p' -> 'a/b.jsonl'), or None
    when it is not below `root`. Local locations compare as local paths, whatever `file:` form they use."""
    if is_local(location) != is_local(root):
        return None
    # The root is resolved as listings resolve it; the location is not (a symlinked file below the root is
    # still below it, and this runs once per file on executors: no file system calls).
    inner = os.path.normpath(local_path(location)) if is_local(location) else location
    outer = normalize(root)
    prefix = outer.rstrip("/") + "/"
    return inner[len(prefix) :] if inner.startswith(prefix) and len(inner) > len(prefix) else None


def below_or_absolute(location: str, root: str) -> str:
    """`location` relative to `root` when it is below it, else `location` itself (a lake-relative name
    where there is one)."""
    relative = relative_to(location, root)
    return relative if relative is not None else location


def as_uri(location: str, *, resolve_links: bool = True) -> str:
    """The form Spark's file sources give a file's path: `file:/abs/path` for local files, URIs as they are."""
    return f"file:{normalize(location, resolve_links=resolve_links)}" if is_local(location) else location


def is_absolute(location: str) -> bool:
    """A URI or an absolute local path (as opposed to a name relative to some root)."""
    return not is_local(location) or Path(local_path(location)).is_absolute()


def exists_locally(location: str) -> bool | None:
    """Whether a local location exists; None for URIs (only their file system can tell)."""
    return Path(local_path(location)).exists() if is_local(location) else None


def shown(text: str) -> str:
    """`text` with the userinfo of every URI in it replaced (`s3a://KEY:SECRET@bucket/x` -> `s3a://***@bucket/x`):
    what a location looks like on the console, in a log line or an error; the location itself keeps it."""
    return _USERINFO.sub(r"\1***@", text)
