"""Errors that mean "bad usage" rather than "a stage broke": the CLI exits 2 with their one-line message."""


class InputNotFoundError(FileNotFoundError):
    """A raw path or an input table that a command needs does not exist."""
