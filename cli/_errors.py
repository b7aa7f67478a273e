"""The one error the commands raise for the user: printed to stderr, exit status 2."""

from __future__ import annotations

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A user-facing error: printed to stderr, exit status 2."""
