"""``actsearch``'s argument parser and ``main``: each subcommand's module adds its parser,
imported only when the parser is built."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli._errors import EXIT_BAD_INPUT, CliError


def build_parser() -> argparse.ArgumentParser:
    from cli._client import add_server_options
    from cli._expression import cmd_demo, cmd_export, cmd_parse
    from space._export import EXPORT_FORMATS

    parser = argparse.ArgumentParser(prog="actsearch", description="Discover activation functions.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="canonical form, LaTeX, known-as, properties, fingerprint")
    p.add_argument("expression", help="e.g. 'x * sigmoid(beta * x)'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_parse)

    p = sub.add_parser("export", help="source code of an expression")
    p.add_argument("expression", help="an expression, or a candidate id (fetched from the service)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="torch")
    add_server_options(p)
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("demo", help="a tour of the search space on a few functions")
    p.set_defaults(handler=cmd_demo)

    from cli._client import add_parser as add_client
    from cli._evaluate import add_parser as add_evaluate
    from cli._serve import add_parser as add_serve
    from cli._token import add_parser as add_token
    from cli._worker import add_parser as add_worker

    add_evaluate(sub)
    add_worker(sub)
    add_serve(sub)
    add_token(sub)
    add_client(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get("ACTSEARCH_PLUGINS"):  # only then: importing space (sympy) adds 0.4 s to every command
        from space import PluginError, load_plugins

        try:
            load_plugins()  # before the parser: plug-in tasks and operators are valid arguments too
        except PluginError as exc:
            print(f"actsearch: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from cli._argv import expression_positional

    # '-x*tanh(x)' is an expression, not an option (argparse would say it is)
    args = build_parser().parse_args(expression_positional(sys.argv[1:] if argv is None else argv))
    try:
        args.handler(args)
    except CliError as exc:
        print(f"actsearch: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0

