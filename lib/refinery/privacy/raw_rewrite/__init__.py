"""Forgetting in raw files: the records of a forgotten subject are blanked in place, so no byte of them stays,
and every other record keeps its position (bronze's lineage stays true). One rewriter per raw format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from refinery.config import SourceConfig
from refinery.privacy.raw_rewrite.files import (
    CannotRewriteError,
    RawMatcher,
    rewrite_csv_file,
    rewrite_json_file,
    rewrite_jsonl_file,
    rewrite_parquet_file,
    rewrite_text_file,
)
from refinery.privacy.raw_rewrite.warc import rewrite_warc_file

Rewriter = Callable[[Path, str, SourceConfig, RawMatcher], int]  # (file, lineage name, source, matcher) -> blanked

REWRITERS: dict[str, Rewriter] = {
    "jsonl": rewrite_jsonl_file,
    "json": rewrite_json_file,
    "csv": rewrite_csv_file,
    "text": rewrite_text_file,
    "parquet": rewrite_parquet_file,
    "warc": rewrite_warc_file,
}

__all__ = ["REWRITERS", "CannotRewriteError", "RawMatcher", "Rewriter", *(f.__name__ for f in REWRITERS.values())]
