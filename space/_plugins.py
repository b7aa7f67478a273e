"""Plug-ins: modules named in ``ACTSEARCH_PLUGINS`` are imported by every actsearch process.

A plug-in adds operators (``space.OPERATORS``) or tasks (``@evaluator.register``) when it is
imported. Registries live in each process, so every process that validates, describes or runs
candidates must import it: the CLI (``serve``, ``worker``, ``parse``, ``evaluate`` …), each API
process and its expression-parsing child, the runner's describer child, and every Ray worker
process, which inherit the variable from ``ray start`` (a cluster) or from the runner (a local
Ray). The modules must be importable there: installed, or on ``PYTHONPATH``.

Example:
    $ PYTHONPATH=plugins ACTSEARCH_PLUGINS=myplugin actsearch parse "x*softsign2(x)"

An operator's C form is optional. Without one (``Operator(..., c=None)``, the default) a
population holding the operator trains with its torch code; with one, the fused CPU and CUDA
kernels run it like a built-in operator: pass ``c=`` a :class:`space.COp`, for a unary operator
most simply ``space.c_unary(value, derivative)`` (C ``str.format`` templates of the operand
``{a}`` and, in the derivative, the value ``{y}``), e.g.
``c=c_unary("{a} / (1.0f + {a} * {a})", "(1.0f - {a} * {a}) / ((1.0f + {a} * {a}) * (1.0f + {a} * {a}))")``.
See ``space._c_form`` for the helpers a template may call and how to add its own
(:class:`space.CHelper`); ``tests/evaluator/test_fused.py`` checks such a form against the torch code.
"""

from __future__ import annotations

import importlib
import os

PLUGINS_ENV = "ACTSEARCH_PLUGINS"


class PluginError(ImportError):
    """A module named in ``ACTSEARCH_PLUGINS`` could not be imported."""


def load_plugins(value: str | None = None) -> list[str]:
    """Imports the comma-separated modules of ``value`` (default: ``$ACTSEARCH_PLUGINS``);
    returns their names. Importing again is free (Python caches modules)."""
    text = os.environ.get(PLUGINS_ENV, "") if value is None else value
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 — any failure of a plug-in is reported the same way
            raise PluginError(f"{PLUGINS_ENV}: cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
    return names
