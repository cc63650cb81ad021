"""Errors the CLI turns into one line: bad usage (exit 2), or a pipeline another run keeps busy (exit 1)."""


class InputNotFoundError(FileNotFoundError):
    """A raw path or an input table that a command needs does not exist."""


class PipelineBusyError(RuntimeError):
    """Another run holds the pipeline's writer lease and did not release it in time."""
