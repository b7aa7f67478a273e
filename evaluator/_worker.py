"""``python -m evaluator._worker``: trains population parts sent by ``evaluator._parallel``.

Reads frames from stdin — a pickled (task, members, resume, options, settings) — and answers each
on the original stdout with ("ok", run), ("raised", exception) or ("unavailable", reason) where
the request cannot even be loaded here. Everything else the process prints goes to stderr, so
nothing a library writes can corrupt the answers. Exits at the end of its input.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any


def _answer(out: Any, status: str, value: Any) -> None:
    from evaluator._parallel import write_frame

    try:
        payload = pickle.dumps((status, value))
    except Exception as exc:  # an exception (or a result) that does not pickle: its text still arrives
        text = "".join(traceback.format_exception(value)) if isinstance(value, BaseException) else repr(exc)
        payload = pickle.dumps(("raised", RuntimeError(text)))
    write_frame(out, payload)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # print() and C libraries writing to fd 1 now reach stderr
    sys.stdout = sys.stderr

    import torch

    from evaluator._parallel import read_frame
    from evaluator._train import train_population
    from space import load_plugins

    torch.set_num_threads(1)
    load_plugins()
    while (frame := read_frame(sys.stdin.buffer)) is not None:
        try:
            task, members, resume, options, settings = pickle.loads(frame)
        except Exception as exc:  # a class or operator that exists only in the parent
            _answer(out, "unavailable", f"a worker cannot load the population: {exc!r}")
            continue
        for key in [k for k in os.environ if k.startswith("ACTSEARCH_") and k not in settings]:
            del os.environ[key]
        os.environ.update(settings)
        try:
            run = train_population(task, members, resume=resume, processes=1, **options)
        except Exception as exc:
            _answer(out, "raised", exc)
        else:
            _answer(out, "ok", run)


if __name__ == "__main__":
    main()
