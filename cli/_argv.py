"""Expressions that start with a minus, as the command line's positional argument.

argparse reads ``-x*tanh(x)`` as an unknown option (only negative *numbers* pass as
positionals), so ``actsearch parse '-x*tanh(x)'`` failed with "the following arguments are
required" — and many activations start with a minus. Before parsing, such a word is moved
behind ``--``, where argparse takes every word as a positional. ``--`` typed by the user keeps
working (nothing is moved then).

>>> expression_positional(["parse", "-x*tanh(x)", "--json"])
['parse', '--json', '--', '-x*tanh(x)']
>>> expression_positional(["evaluate", "-min(-x,0)", "--task", "toy-regression"])
['evaluate', '--task', 'toy-regression', '--', '-min(-x,0)']
>>> expression_positional(["parse", "--json", "--", "-x"])
['parse', '--json', '--', '-x']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# The commands whose one positional argument is an expression.
EXPRESSION_COMMANDS = frozenset({"parse", "export", "evaluate"})
# Their short options: every other option they take is long (``--json``), so a word with one
# leading minus that is not one of these is the expression.
SHORT_OPTIONS = frozenset({"-h"})
# What argparse itself takes as a negative number (a positional, or an option's value: --seeds -1)
NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


def expression_positional(argv: Sequence[str]) -> list[str]:
    """``argv`` with the first expression that starts with ``-`` moved behind ``--``."""
    words = list(argv)
    if not words or words[0] not in EXPRESSION_COMMANDS or "--" in words:
        return words
    for i, word in enumerate(words[1:], start=1):
        if _is_expression(word):
            return [*words[:i], *words[i + 1:], "--", word]
    return words


def _is_expression(word: str) -> bool:
    return (word.startswith("-") and not word.startswith("--") and len(word) > 1 and word not in SHORT_OPTIONS
            and not NUMBER.match(word))
