"""Refinery's errors, in one hierarchy that decides the exit code.

- `UsageError` and its kinds (bad config, a missing input, a release name taken): the user can fix the
  command. The CLI prints one line and exits 2; a stage that raises one still ends with a `failed`
  ledger row.
- Anything else raised by a stage is a data or engine failure: a `failed` ledger row, exit 1.
- `PipelineBusyError`: another run holds the pipeline; one line, exit 1.
"""

from refinery.paths import shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # the exit codes of every `refinery` command


class UsageError(Exception):
    """Something the user can fix in the command, the config or the lake's inputs: exit 2, one line."""


class ConfigError(UsageError, ValueError):
    """The configuration is invalid; the message names the key and what is wrong."""


class ParameterError(ConfigError):
    """A parameter of a transform is out of range. `field` names it; the config loader prefixes the
    section it was read from, so users see the full key (`curate.c4.min_words_per_line`)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"'{field}': {problem}")
        self.field = field
        self.problem = problem


class InputNotFoundError(UsageError, FileNotFoundError):
    """A raw path or an input table that a command needs does not exist."""


class MissingInputError(InputNotFoundError):
    """A table a command reads has not been written yet: the one message names it and the command that writes it."""

    def __init__(self, table: str, writer: str):
        super().__init__(f"input table {shown(table)} does not exist; run `refinery {writer}` first")


class ReleaseExistsError(UsageError):
    """A release name is taken by a different gold version."""


class PipelineBusyError(RuntimeError):
    """Another run holds the pipeline's writer lease and did not release it in time."""


def require_range(field: str, value: float, low: float, high: float | None) -> None:
    """`low <= value <= high` (no upper bound when `high` is None), else a ParameterError naming `field`."""
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise ParameterError(field, f"must be {bound}, got {value:g}")


def require_positive(field: str, value: int) -> None:
    if value <= 0:
        raise ParameterError(field, f"must be > 0, got {value}")


def require_order(low_field: str, low: float, high_field: str, high: float) -> None:
    if low > high:
        raise ParameterError(low_field, f"{low:g} is above '{high_field}' {high:g}")
