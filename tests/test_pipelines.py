"""Each pipeline kind is declared once (refinery.pipelines): a chain of stages over declared tables, whose modules,
checks and card writer exist, and from which the CLI, releases, forget and explain take their shape."""

from __future__ import annotations

import importlib

import pytest

from refinery import pipelines, tables
from refinery.cli import COMMANDS
from refinery.errors import ConfigError
from refinery.stages.forget import merged_tables


@pytest.mark.parametrize("kind", pipelines.KINDS.values(), ids=lambda kind: kind.name)
def test_a_kind_is_a_chain_of_stages_over_declared_tables(kind):
    assert kind.stages[0].reads == pipelines.RAW
    written = {pipelines.RAW}
    for stage in kind.stages:
        assert stage.reads in written, f"{stage.name} reads {stage.reads}, which no earlier stage writes"
        assert stage.writes not in written, f"{stage.writes} is written twice"
        written.add(stage.writes)
        for table in (stage.writes, *stage.also_writes):
            assert tables.table(table).schema is not None
            assert tables.columns(table, kind.name)  # its kind has the table's schema file
    assert kind.row_sections and set(kind.commands).isdisjoint(pipelines.COMMON_COMMANDS)


@pytest.mark.parametrize("kind", pipelines.KINDS.values(), ids=lambda kind: kind.name)
def test_every_module_and_function_a_kind_names_exists(kind):
    for stage in kind.stages:
        assert callable(importlib.import_module(stage.module).run)
    assert callable(importlib.import_module(pipelines.MAINTAIN).run)
    assert callable(pipelines.resolve(kind.check_config)) and callable(pipelines.resolve(kind.card))


def test_what_releases_forget_and_explain_derive_from_a_kind():
    text, tabular = pipelines.TEXT, pipelines.TABULAR
    assert text.upstream("publish") == (("silver_dedup", "dedup"), ("silver", "curate"), ("bronze", "ingest"))
    assert tabular.upstream("publish") == (("silver", "curate"), ("bronze", "ingest"))
    assert text.document_tables == ("bronze", "silver", "silver_dedup", "gold") and text.last.writes == "gold"
    assert merged_tables(text) == ("bronze", "silver", "silver_dedup", "signatures")
    assert text.writer_of("silver").name == "curate" and text.writer_of(pipelines.RAW) is None


def test_a_command_a_kind_does_not_have_is_one_line_naming_its_stages():
    with pytest.raises(ConfigError, match=r"pipeline 'p' is tabular: it has no dedup stage \(its stages: ingest, "):
        pipelines.TABULAR.check_command("p", "dedup")
    with pytest.raises(ConfigError, match="unknown pipeline kind 'video'"):
        pipelines.kind("video")


def test_every_cli_command_belongs_to_some_kind():
    assert [c for c in COMMANDS if not any(k.has_command(c) for k in pipelines.KINDS.values())] == []
