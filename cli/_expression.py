"""``actsearch parse``, ``export`` and ``demo``: the search space's commands, no server needed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli._errors import CliError


def describe(text: str, *, signal: bool = False) -> dict[str, Any]:
    """Everything ``actsearch parse`` reports about an expression (:func:`space.describe`); with
    ``signal``, its properties include the signal-propagation gains (torch, imported lazily)."""
    from space import describe as describe_expr

    expr = _parsed(text)
    info = describe_expr(expr)
    if signal:
        info["properties"] = {**info["properties"], **_signal_gains(expr)}
    return info


def _parsed(text: str) -> Any:
    from space import ParseError, parse

    try:
        return parse(text)
    except ParseError as exc:
        raise CliError(f"cannot parse expression: {exc}\n{exc.pointer()}") from None


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
    from cli._client import export_candidate, is_candidate_id
    from space import export

    if is_candidate_id(args.expression):
        export_candidate(args)
        return
    text = export(_parsed(args.expression), args.format)
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
