"""The ``actsearch`` command line.

Commands that only need the search space (``parse``, ``export``, ``demo``) import nothing heavy
until they run. ``--json`` output is one JSON object on stdout; errors go to stderr with a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A user-facing error: printed to stderr, exit status 2."""


def describe(text: str, *, signal: bool = False) -> dict[str, Any]:
    """Everything ``actsearch parse`` reports about an expression, as JSON-ready data; with
    ``signal``, its properties include the signal-propagation gains (torch, imported lazily)."""
    from space import ParseError, canonical_text, export, fingerprint, identify, parse, properties

    try:
        expr = parse(text)
    except ParseError as exc:
        raise CliError(f"cannot parse expression: {exc}\n{exc.pointer()}") from None
    match = identify(expr)
    return {
        "expression": str(expr),
        "canonical": canonical_text(expr),
        "latex": export(expr, "latex"),
        "known_as": None if match is None else match.name,
        "known": None if match is None else match.to_json(),
        "fingerprint": fingerprint(expr),
        "operators": list(expr.operators()),
        "parameters": expr.param_inits(),
        "cost": expr.cost,
        "size": expr.size,
        "properties": {**properties(expr).to_json(), **(_signal_gains(expr) if signal else {})},
    }


def _signal_gains(expr: Any) -> dict[str, Any]:
    """The gains per layer and the default bounds' verdict; an overflowing gain is "Infinity",
    as the API writes it (strict JSON has no inf)."""
    from api._errors import jsonable
    from evaluator import SIGNAL_BOUNDS, signal_gains  # torch: only when the CLI asks, never at import

    gains = signal_gains(expr)
    verdict = SIGNAL_BOUNDS.verdict(gains)
    return jsonable({**gains.to_json(), "signal_propagation": "passes" if verdict is None else verdict[1]})


def _print_description(info: dict[str, Any]) -> None:
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key in ("known",):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {value if value is not None else '-'}")


def cmd_parse(args: argparse.Namespace) -> None:
    info = describe(args.expression, signal=True)
    if args.json:
        print(json.dumps(info, sort_keys=True))
    else:
        _print_description(info)


def cmd_export(args: argparse.Namespace) -> None:
    from api._client_cmd import export_candidate, is_candidate_id
    from space import ParseError, export, parse

    if is_candidate_id(args.expression):
        export_candidate(args)
        return
    try:
        expr = parse(args.expression)
    except ParseError as exc:
        raise CliError(f"cannot parse expression: {exc}\n{exc.pointer()}") from None
    text = export(expr, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


DEMO_EXPRESSIONS = (
    "x / (1 + exp(-x))",
    "max(x, 0)",
    "x * sigmoid(beta * x)",
    "x + sin(x)^2",
    "min(x, sin(x))",
    "log(1 + exp(x)) * tanh(x)",
)


def cmd_demo(args: argparse.Namespace) -> None:
    """Parse, identify, compile and export a few functions: a tour of the search space."""
    import torch

    from space import compile_module, export, parse

    x = torch.linspace(-3, 3, 7)
    for text in DEMO_EXPRESSIONS:
        info = describe(text)
        module = compile_module(parse(text), num_channels=1)
        y = module(x.reshape(-1, 1)).detach().reshape(-1)
        print(f"\n{text}")
        print(f"  parsed as   {info['expression']}")
        print(f"  canonical   {info['canonical']}")
        print(f"  known as    {info['known_as'] or '(not a published function)'}")
        print(f"  fingerprint {info['fingerprint']}")
        props = info["properties"]
        print("  properties  " + ", ".join(f"{k}={v}" for k, v in props.items()))
        print("  f(-3..3)    " + " ".join(f"{v:+.3f}" for v in y.tolist()))
    print("\nThe torch export of the last one:\n")
    print(export(parse(DEMO_EXPRESSIONS[-1]), "torch"))
    print("Try: actsearch parse 'x*tanh(softplus(x))' --json; actsearch export 'x*sigmoid(x)' --format jax")


def build_parser() -> argparse.ArgumentParser:
    from api._client_cmd import add_server_options
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

    from api._client_cmd import add_parser as add_client
    from api._evaluate_cmd import add_parser as add_evaluate
    from api._serve_cmd import add_parser as add_serve
    from api._token_cmd import add_parser as add_token
    from api._worker_cmd import add_parser as add_worker

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
    from api._argv import expression_positional

    # '-x*tanh(x)' is an expression, not an option (argparse would say it is)
    args = build_parser().parse_args(expression_positional(sys.argv[1:] if argv is None else argv))
    try:
        args.handler(args)
    except CliError as exc:
        print(f"actsearch: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
