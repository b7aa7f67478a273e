"""How many fused-kernel loops GCC vectorises, per target instruction set.

Compiles (never runs) the kernels of every operator and of the compositions the vectoriser test
uses, for x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512) with this machine's GCC, and for
aarch64 (``armv8.2-a`` NEON and ``armv8.2-a+sve``) where Debian's cross compiler
``aarch64-linux-gnu-gcc`` is installed (``apt-get install gcc-aarch64-linux-gnu``). The last
stdout line is a JSON object: per target, kernel loops compiled and how many stayed scalar.

Run: ``.venv/bin/python bench/vectorised_loops.py``
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from evaluator import _fused
from evaluator._c_target import describe_cpu
from evaluator._vectoriser import kernel_loops
from tests.evaluator.test_fused import _compositions, _operator_cases

CROSS_AARCH64 = "aarch64-linux-gnu-gcc"


def targets() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (compiler, flags); ``-c``: compile only, a cross toolchain need not link."""
    compiler = _fused._compiler()
    out = {}
    if compiler is not None:
        for level in ("x86-64-v3", "x86-64-v4"):
            out[level] = (compiler[0], (*_fused.compile_flags(level), "-c"))
    cross = shutil.which(CROSS_AARCH64)
    if cross:
        for march in ("armv8.2-a", "armv8.2-a+sve"):
            out[f"aarch64 {march}"] = (cross, (*_fused._FLAGS, f"-march={march}", "-c"))
    return out


def main() -> None:
    exprs = list(dict.fromkeys(_operator_cases() + _compositions()))
    rows = {}
    for name, (compiler, flags) in targets().items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                report = kernel_loops(compiler, flags, exprs, Path(tmp))
            except subprocess.CalledProcessError as exc:  # GCC 12 crashes on SVE (an internal error)
                error = next((line for line in exc.stderr.splitlines() if "error" in line), exc.stderr[-300:])
                rows[name] = {"error": error.strip()}
                print(f"{name:<24} the compiler failed: {error.strip()}", flush=True)
                continue
        rows[name] = {"loops": report.loops, "vectorised": report.vectorised, "scalar": len(report.scalar)}
        print(f"{name:<24} {report.vectorised:>4} of {report.loops} kernel loops vectorised", flush=True)
    if not shutil.which(CROSS_AARCH64):
        print(f"aarch64: no {CROSS_AARCH64} (apt-get install gcc-aarch64-linux-gnu)")
    print(json.dumps({**describe_cpu(), "expressions": len(exprs), "targets": rows}))


if __name__ == "__main__":
    main()
