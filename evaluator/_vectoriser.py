"""GCC's vectoriser report on the fused kernels: which kernel loops it left scalar.

A template that puts a maths call behind a branch (a ternary, fminf's NaN rules) leaves its loop
scalar and the candidate about 10x slower, silently. The report is read from a compile only (the
code is never run), so any x86-64 machine checks every x86-64 level, and a cross compiler checks
another architecture. Used by the tests and by ``bench/vectorised_loops.py``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from space import Expr, population_source

_KERNEL = re.compile(r"static void (fwd_\d+|fwd_grad_\d+|bwd_p\d+)\(")


@dataclass(frozen=True)
class VectoriserReport:
    loops: int  # kernel loops compiled (each kernel has one)
    scalar: list[str]  # the kernels left scalar, each with the source around its loop

    @property
    def vectorised(self) -> int:
        return self.loops - len(self.scalar)


def kernel_loops(compiler: str, flags: Sequence[str], exprs: Sequence[Expr], folder: Path,
                 libs: Sequence[str] = ()) -> VectoriserReport:
    """Compile ``exprs`` for both layouts with ``flags`` and read GCC's report."""
    loops, scalar = 0, []
    for channels_last in (True, False):
        source = population_source(exprs, channels_last=channels_last)
        src = folder / f"all{int(channels_last)}.c"
        src.write_text(source)
        out = subprocess.run([compiler, *flags, "-fopt-info-vec", "-fopt-info-vec-missed",
                              "-o", str(folder / "all.so"), str(src), *libs],
                             capture_output=True, text=True, check=True)
        name = re.escape(src.name)
        # a first attempt may fail ("control flow") and a versioned copy of the loop vectorise
        missed = {int(m) for m in re.findall(rf"{name}:(\d+):\d+: missed: couldn't vectorize loop", out.stderr)}
        missed -= {int(m) for m in re.findall(rf"{name}:(\d+):\d+: optimized: loop vectorized", out.stderr)}
        lines = source.splitlines()
        loops += sum(1 for line in lines if _KERNEL.match(line))
        for line in sorted(missed):
            function = next(lines[i] for i in range(line - 1, -1, -1) if lines[i].startswith("static "))
            if _KERNEL.match(function):
                scalar.append(f"{function.split('(')[0]} ({lines[line - 1].strip()}):\n"
                              + "\n".join(lines[max(0, line - 12):line + 8]))
    return VectoriserReport(loops, scalar)
