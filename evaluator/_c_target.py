"""Which vector instruction set the fused CPU kernels are compiled for.

The kernels are built for an x86-64 micro-architecture *level* (``x86-64-v4``: AVX-512;
``x86-64-v3``: AVX2 + FMA; ``x86-64-v2``; ``x86-64``), not ``-march=native``: a level names
exactly what the code may execute, so a library in a kernel cache shared by machines of
different CPUs (one home directory on a cluster) is keyed by it and loaded wherever that level
runs, the vectoriser tests check the same levels from any x86-64 machine, and benchmarks can say
what they measured. Other architectures (aarch64) build for ``native``.

``ACTSEARCH_KERNEL_ISA`` picks a lower level (for instance ``x86-64-v3`` on a cluster mixing
AVX-512 and AVX2 nodes, so that one build serves all); a level the CPU cannot run is refused
with a warning, since its code would crash the process with an illegal instruction.
"""

from __future__ import annotations

import functools
import logging
import os
import platform

ISA_ENV = "ACTSEARCH_KERNEL_ISA"
# the CPU flags (as /proc/cpuinfo names them) each level requires, after the psABI's definition
_V1 = frozenset({"sse", "sse2"})
_V2 = _V1 | {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
_V4 = _V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
X86_LEVELS: dict[str, frozenset[str]] = {"x86-64": _V1, "x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4}
NATIVE = "native"
log = logging.getLogger(__name__)


def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return ""


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name, e.g. ``AMD EPYC 7B13`` (for benchmark reports)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def host_level(flags: frozenset[str] | None = None) -> str:
    """The highest level this CPU runs (``flags``: its /proc/cpuinfo flags, read if omitted);
    ``native`` off x86-64."""
    if not is_x86_64():
        return NATIVE
    if flags is None:
        flags = frozenset(_cpuinfo_field("flags").split())
    runnable = [level for level, needs in X86_LEVELS.items() if needs <= flags]
    return runnable[-1] if runnable else "x86-64"


@functools.lru_cache(maxsize=1)
def kernel_isa() -> str:
    """The level the kernels are built for: the host's, or ``$ACTSEARCH_KERNEL_ISA`` if the
    CPU runs it."""
    host = host_level()
    wanted = os.environ.get(ISA_ENV, "").strip()
    if not wanted or wanted == host:
        return host
    levels = list(X86_LEVELS)
    if host == NATIVE or wanted not in levels:
        log.warning("%s=%r is not one of %s on this %s CPU: building fused kernels for %s",
                    ISA_ENV, wanted, ", ".join(levels) if host != NATIVE else "(none)", platform.machine(), host)
        return host
    if levels.index(wanted) > levels.index(host):
        log.warning("%s=%s: this CPU (%s) runs only up to %s; building fused kernels for %s",
                    ISA_ENV, wanted, cpu_model(), host, host)
        return host
    return wanted


def march_flags(level: str) -> tuple[str, ...]:
    """GCC/Clang flags that build for ``level``. Generic tuning with a level: the code must run
    well on every CPU of the level, not only the one that compiled it."""
    return ("-march=native",) if level == NATIVE else (f"-march={level}", "-mtune=generic")


def describe_cpu() -> dict[str, str]:
    """What a benchmark ran on: the CPU's model and the level its kernels were built for."""
    return {"cpu": cpu_model(), "kernel_isa": kernel_isa()}
