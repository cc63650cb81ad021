"""Each pipeline kind declared once: its stages in order with the table each reads and writes, the commands only
it has, the config sections that decide its rows, and the functions that check its config and write its card.

Everything that needs a kind's shape derives it from here: the CLI and its checks before the JVM starts, the
stage registry, releases (which versions a gold version was built from), explain, forget, the config hash and
the Databricks bundle. Modules are named by their dotted path, so this file imports nothing but the errors:
the CLI reads it before Spark is imported. A pipeline's config names its kind (`kind: text`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from refinery.errors import ConfigError

RAW = "raw"  # what ingest reads: the landing folder of files (refinery.tables), not a Delta table
COMMON_COMMANDS = ("run", "conf", "release", "card", "profile", "maintain", "doctor", "init")  # every kind has these
MAINTAIN = "refinery.stages.maintain"  # the module that maintains any kind's tables


@dataclass(frozen=True)
class Stage:
    """One stage of a kind: the table it reads (RAW for raw files) and the table it writes; the module whose
    `run(ctx)` runs it; what it does (the CLI's help); the tables besides its output it keeps (dedup's
    signatures); the config sections that decide its rows (a stage that adds to its output rather than rebuild
    it rebuilds when they, or an earlier stage's, change)."""

    name: str
    reads: str
    writes: str
    module: str
    does: str
    also_writes: tuple[str, ...] = ()
    decided_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """One kind of pipeline (see the module docstring)."""

    name: str
    stages: tuple[Stage, ...]
    commands: tuple[str, ...]  # commands only this kind has, beyond COMMON_COMMANDS and its stages
    row_sections: tuple[str, ...]  # config sections that decide its rows: what the config hash covers
    check_config: str  # "module:function" checking a loaded config against the kind's schemas
    card: str  # "module:function" writing its dataset card
    decontaminates: bool = False  # publish reads evaluation sets (publish.decontamination)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """What `refinery run` runs, in order."""
        return tuple(stage.name for stage in self.stages)

    @property
    def last(self) -> Stage:
        """The last stage: its output is what releases freeze and the loader reads (gold)."""
        return self.stages[-1]

    @property
    def document_tables(self) -> tuple[str, ...]:
        """Every stage's output table, in stage order: where forget looks for a subject's documents."""
        return tuple(stage.writes for stage in self.stages)

    def stage(self, name: str) -> Stage:
        """The declaration of stage `name` (a ConfigError naming the kind's stages otherwise)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"a {self.name} pipeline has no {name} stage (its stages: {', '.join(self.stage_names)})")

    def writer_of(self, table: str) -> Stage | None:
        """The stage whose output is `table` (None for raw files or a table no stage writes)."""
        return next((stage for stage in self.stages if stage.writes == table), None)

    def upstream(self, stage: str) -> tuple[tuple[str, str], ...]:
        """(table, the stage that writes it) from `stage`'s input up to the first stage's output:
        for text publish, (silver_dedup, dedup), (silver, curate), (bronze, ingest)."""
        chain, writer = [], self.writer_of(self.stage(stage).reads)
        while writer is not None:
            chain.append((writer.writes, writer.name))
            writer = self.writer_of(writer.reads)
        return tuple(chain)

    def sections_deciding(self, stage: str) -> tuple[str, ...]:
        """The config sections that decide `stage`'s rows: its own and those of the stages upstream of it."""
        names = (stage, *(name for _, name in self.upstream(stage)))
        return tuple(dict.fromkeys(section for name in names for section in self.stage(name).decided_by))

    def has_command(self, command: str) -> bool:
        return command in COMMON_COMMANDS or command in self.stage_names or command in self.commands

    def check_command(self, pipeline: str, command: str) -> None:
        """A stage or command the kind does not have (dedup of record data) is a usage error."""
        if not self.has_command(command):
            raise ConfigError(
                f"pipeline '{pipeline}' is {self.name}: it has no {command} "
                f"{'stage' if command in STAGE_NAMES else 'command'} (its stages: {', '.join(self.stage_names)})"
            )


def resolve(reference: str) -> Callable:
    """The function a `module:function` reference names (imported on first use)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


TEXT = Kind(
    name="text",  # documents for language-model training
    stages=(
        Stage("ingest", RAW, "bronze", "refinery.stages.ingest", "typed records with lineage; bad records to rejects"),
        Stage(
            "curate",
            "bronze",
            "silver",
            "refinery.stages.curate",
            "HTML text, language, quality filters, PII",
            decided_by=("curate", "privacy"),
        ),
        Stage(
            "dedup",
            "silver",
            "silver_dedup",
            "refinery.stages.dedup",
            "exact, then MinHash near-duplicate removal",
            also_writes=("signatures",),
            decided_by=("dedup",),
        ),
        Stage(
            "publish",
            "silver_dedup",
            "gold",
            "refinery.stages.publish",
            "decontamination, splits, mixture, token counts, training layout",
        ),
    ),
    commands=("stream", "forget", "explain"),
    row_sections=("ingest", "curate", "dedup", "publish", "privacy"),
    check_config="refinery.config.checks:check_text",
    card="refinery.commands.card:write_card",
    decontaminates=True,
)

TABULAR = Kind(
    name="tabular",  # record data for classic ML: changes merged into a current state, k-anonymous, encoded
    stages=(
        Stage("ingest", RAW, "bronze", "refinery.stages.tabular.ingest", "typed change records with lineage"),
        Stage("curate", "bronze", "silver", "refinery.stages.tabular.curate", "expectations, pseudonyms, MERGE"),
        Stage("publish", "silver", "gold", "refinery.stages.tabular.publish", "k-anonymity, split, features"),
    ),
    commands=(),
    row_sections=("ingest", "publish", "privacy", "tabular"),
    check_config="refinery.config.checks:check_tabular",
    card="refinery.commands.tabular_card:write_tabular_card",
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (TEXT, TABULAR)}
STAGE_NAMES = tuple(dict.fromkeys(stage.name for kind in KINDS.values() for stage in kind.stages))


def kind(name: str) -> Kind:
    """The declaration of kind `name` (a ConfigError naming the known kinds otherwise)."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown pipeline kind '{name}' (known: {', '.join(KINDS)})") from None
