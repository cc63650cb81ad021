"""Compiled per-batch kernels: curation's per-document work over whole batches, in numba.

Each kernel mirrors a plain-Python reference elsewhere in `refinery.transforms` (the oracle of a parity test)
and hands a document it cannot decide exactly back to that reference.

Compiled code is cached on disk (`python -m refinery.transforms.kernels` fills the cache; make setup-run and
make dist run it): in `__pycache__` next to these files, or numba's user-wide cache folder when this folder is
read-only. Numba stamps a cached function with its own file's content only, so a kernel compiled with a helper
from another file would survive a change to that helper; here every kernel is stamped with the content of all
of this package's files instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba.core.caching import CacheImpl, InTreeCacheLocator, UserWideCacheLocator

_HERE = Path(__file__).resolve().parent
SOURCES_STAMP = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(_HERE.glob("*.py")))).hexdigest()


class _StampedByPackage:
    """A cache locator for this package's functions whose freshness is the content of the whole package."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != _HERE:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return SOURCES_STAMP


class _InTree(_StampedByPackage, InTreeCacheLocator):
    pass


class _UserWide(_StampedByPackage, UserWideCacheLocator):
    pass


if _InTree not in CacheImpl._locator_classes:
    CacheImpl._locator_classes[:0] = [_InTree, _UserWide]
