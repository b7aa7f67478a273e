"""The ``actsearch`` command: its subcommands call the client, the store or a local run.

Commands that only need the search space (``parse``, ``export``, ``demo``) import nothing heavy
until they run. ``--json`` output is one JSON object on stdout; errors go to stderr with a
non-zero exit status.

Example:
    >>> main(["parse", "x*sigmoid(x)", "--json"])   # doctest: +SKIP
    0
"""

from cli._errors import CliError
from cli._main import build_parser, main

__all__ = ["CliError", "build_parser", "main"]
