"""Fused population activations on the CPU: every member's candidate as one compiled C loop.

``space._c_source`` writes the C (each expression's values, and its values with their local
derivatives, which the backward pass multiplies by the incoming gradient); this
module compiles it with the system C compiler into a shared library cached under
``$ACTSEARCH_CACHE/kernels`` (keyed by the source, the compiler and the
vector ISA level it was built for: ``evaluator._c_target``), loads it with
ctypes (which releases the GIL during the call) and wraps it in an autograd function.

It is an accelerator, never a requirement: on another device or dtype (CUDA, bf16 autocast),
for an operator without a C form (a plug-in's), without a working compiler, or with
``ACTSEARCH_FUSED_KERNELS=0``, :func:`population_kernel` returns ``None`` and the members run
their PyTorch code. Values and gradients equal the PyTorch code within float tolerance
(tested per operator); a population trained fused therefore equals its members trained alone
fused, and is close to, not bit-identical with, the same population trained unfused.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from evaluator._c_target import NATIVE, kernel_isa, march_flags
from evaluator._data import cache_dir
from space import C_MAX_PARAMS, Expr, c_supported, population_source

FUSED_ENV = "ACTSEARCH_FUSED_KERNELS"
KERNEL_CACHE_ENV = "ACTSEARCH_KERNEL_CACHE"
_FLAGS = (
    "-O3", "-fPIC", "-shared",
    "-fno-math-errno",  # maths calls without errno side effects: GCC may use their vector variants
    # Floating-point operations may be assumed not to trap (values, NaN and inf are unchanged):
    # without it GCC may not execute both sides of a select unless the CPU has masked vector
    # instructions, so on AVX2 every loop with a comparison stayed scalar (it vectorised only
    # with AVX-512's masks).
    "-fno-trapping-math",
    # both passes move maths calls into branches (a select around them, a clamp tested twice),
    # and GCC does not vectorise loops with branches
    "-fno-tree-sink", "-fno-thread-jumps",
    "--param", "vect-epilogues-nomask=0",  # no vector tails: compiling took 1.2 s instead of 0.75
    "-fopenmp",  # links libgomp.so.1, which resolves to the copy PyTorch loaded: its thread pool
)
_LIBS = ("-lmvec", "-lm")
log = logging.getLogger(__name__)


def kernel_dir() -> Path:
    """``$ACTSEARCH_KERNEL_CACHE`` or the ``kernels`` folder of the data cache."""
    return Path(os.environ.get(KERNEL_CACHE_ENV) or cache_dir() / "kernels")


def enabled() -> bool:
    return os.environ.get(FUSED_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@functools.lru_cache(maxsize=1)
def _compiler() -> tuple[str, str] | None:
    """The C compiler (``$CC`` or cc/gcc) and its version line, or None."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        path = shutil.which(name) if name else None
        if path:
            try:
                out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0:
                return path, out.stdout.splitlines()[0] if out.stdout else ""
    return None


def compile_flags(isa: str | None = None) -> tuple[str, ...]:
    """The compiler's flags for kernels built for ``isa`` (default: :func:`kernel_isa`)."""
    return (*_FLAGS, *march_flags(isa or kernel_isa()))


_FAILED: set[str] = set()


@functools.lru_cache(maxsize=1)
def _cpu_id() -> str:
    """A hash of the CPU's flags: a ``native`` build runs only where they are the same."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _build(source: str) -> ctypes.CDLL | None:
    compiler = _compiler()
    if compiler is None:
        _warn_once("no C compiler (set CC or install gcc): candidates run as PyTorch ops, slower")
        return None
    flags = compile_flags()
    # the ISA level is in the flags: a cache shared by machines of different CPUs keeps a
    # library per level, and a machine loads only what its CPU runs ("native" adds the CPU)
    native = _cpu_id() if kernel_isa() == NATIVE else ""
    key = hashlib.sha256("\n".join([source, *compiler, *flags, *_LIBS, native]).encode()).hexdigest()[:32]
    if key in _FAILED:
        return None
    try:
        target = _compiled(source, compiler[0], flags, key, kernel_dir())
    except OSError as exc:  # a read-only cache: build in a private temporary folder instead
        _warn_once(f"cannot write fused kernels to {kernel_dir()} ({exc}); using a temporary folder")
        try:
            target = _compiled(source, compiler[0], flags, key, Path(_private_folder()))
        except OSError as exc2:
            _warn_once(f"cannot build fused kernels, using PyTorch ops: {exc2}")
            target = None
    if target is not None:
        try:
            return ctypes.CDLL(target)
        except OSError as exc:  # e.g. libmvec missing where the library is loaded
            _warn_once(f"cannot load fused kernels, using PyTorch ops: {exc}")
    _FAILED.add(key)
    return None


def _compiled(source: str, compiler: str, flags: Sequence[str], key: str, folder: Path) -> str | None:
    """The path of the shared library for ``key`` in ``folder``, compiling it if needed;
    None (after a warning) if the compiler rejects the source."""
    target = str(folder / f"pop_{key}.so")
    if os.path.exists(target):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src, lib = os.path.join(tmp, "pop.c"), os.path.join(tmp, "pop.so")
        with open(src, "w") as f:
            f.write(source)
        out = subprocess.run([compiler, *flags, "-o", lib, src, *_LIBS], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            _warn_once(f"compiling fused kernels failed, using PyTorch ops: {out.stderr.strip()[-2000:]}")
            return None
        os.replace(lib, target)  # atomic: concurrent builders of the same key agree
    log.debug("compiled fused kernels %s in %.2f s", key, time.perf_counter() - began)
    return target


@functools.lru_cache(maxsize=1)
def _private_folder() -> str:
    return tempfile.mkdtemp(prefix="actsearch-kernels-")


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


class PopulationKernel:
    """The compiled kernels of one population: ``exprs[kinds[m]]`` is member m's candidate;
    ``slots``: the most parameters any of them has. Arguments are tensors' addresses (ctypes
    releases the GIL during the call)."""

    def __init__(self, lib: ctypes.CDLL, kinds: Sequence[int], slots: int) -> None:
        self.lib, self.slots = lib, slots
        self.kinds = torch.tensor(list(kinds), dtype=torch.int32)
        self._forward = lib.actsearch_forward
        self._forward.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int]
        self._forward.restype = None
        self._forward_grad = lib.actsearch_forward_grad
        self._forward_grad.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_int]
        self._forward_grad.restype = None
        self._backward = lib.actsearch_backward
        self._backward.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_int]
        self._backward.restype = ctypes.c_int

    def forward(self, x: torch.Tensor, layout: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """The members' values alone (no gradient will be asked for)."""
        y = torch.empty_like(x)
        self._forward(x.data_ptr(), y.data_ptr(), layout.data_ptr(), self.kinds.data_ptr(), params.data_ptr(),
                      torch.get_num_threads())
        return y

    def forward_grad(self, x: torch.Tensor, layout: torch.Tensor,
                     params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values ``y``, and each element's ``d = dy/dx`` and ``dp[k] = dy/dβ_k`` for backward."""
        y, d = torch.empty_like(x), torch.empty_like(x)
        dp = torch.empty((self.slots, *x.shape), dtype=x.dtype)
        self._forward_grad(x.data_ptr(), y.data_ptr(), d.data_ptr(), dp.data_ptr(), layout.data_ptr(),
                           self.kinds.data_ptr(), params.data_ptr(), torch.get_num_threads())
        return y, d, dp

    def backward(self, gy: torch.Tensor, d: torch.Tensor, dp: torch.Tensor, layout: torch.Tensor,
                 param_grads: torch.Tensor) -> torch.Tensor:
        """``gx = gy * d``; each parameter's gradient (written where ``param_grads`` points) from ``gy * dp``."""
        gx = torch.empty_like(gy)
        status = self._backward(gy.data_ptr(), d.data_ptr(), dp.data_ptr(), gx.data_ptr(), layout.data_ptr(),
                                self.kinds.data_ptr(), param_grads.data_ptr(), torch.get_num_threads())
        if status != 0:
            raise MemoryError("fused activation backward: out of memory")
        return gx


def population_kernel(exprs: Sequence[Expr], *, channels_last: bool = True) -> PopulationKernel | None:
    """Compiled kernels for members with candidates ``exprs`` (one per member) on layouts with
    ``I == 1`` (``channels_last``) or any ``I``, or None where the members must run their
    PyTorch code (see the module docstring)."""
    if not enabled() or not all(c_supported(e) for e in exprs):
        return None
    distinct = list(dict.fromkeys(exprs))
    lib = _build(population_source(distinct, channels_last=channels_last))
    if lib is None:
        return None
    return PopulationKernel(lib, [distinct.index(e) for e in exprs], max(len(e.params()) for e in distinct))


def member_layout(shape: Sequence[int], k: int, split_dim: int, channel_dim: int) -> tuple[int, ...] | None:
    """``(K, O, stride_o, member_stride, R, C, I)`` for member slices of a contiguous tensor
    ``shape`` split in ``k`` along ``split_dim`` with channels on ``channel_dim`` of a slice;
    None if the channel dimension lies before the split (not a layout the kernels walk)."""
    nd = len(shape)
    split, channel = split_dim % nd, channel_dim % nd
    if channel < split or shape[split] % k:
        return None
    numel, outer, after_channel = math.prod(shape), math.prod(shape[:split]), math.prod(shape[channel + 1 :])
    slice_numel = numel // outer // k  # one member's block within one outer index
    channels = shape[channel] // k if channel == split else shape[channel]
    if channels == 0 or slice_numel % (channels * after_channel):
        return None
    rows = slice_numel // (channels * after_channel)
    return (k, outer, numel // outer, slice_numel, rows, channels, after_channel)


class FusedActivation(torch.autograd.Function):
    """``y = f_m(x_m)`` for every member m, with gradients for ``x`` and every parameter. The
    forward pass keeps the local derivatives, not ``x``: backward is the chain rule alone."""

    @staticmethod
    def forward(ctx: Any, kernel: PopulationKernel, layout: torch.Tensor, pointers: torch.Tensor,
                x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        y, d, dp = kernel.forward_grad(x, layout, pointers)
        ctx.kernel, ctx.layout, ctx.pointers = kernel, layout, pointers
        ctx.save_for_backward(d, dp, *params)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, gy: torch.Tensor) -> Any:
        d, dp, *params = ctx.saved_tensors
        grads = [torch.empty_like(p) for p in params]
        grad_pointers = torch.zeros_like(ctx.pointers)
        flat = grad_pointers.view(-1)
        slots = (ctx.pointers.view(-1) != 0).nonzero().view(-1).tolist()
        for slot, g in zip(slots, grads, strict=True):
            flat[slot] = g.data_ptr()
        gx = ctx.kernel.backward(gy.contiguous(), d, dp, ctx.layout, grad_pointers)
        return (None, None, None, gx, *grads)


def parameter_pointers(member_params: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """``[K, C_MAX_PARAMS]`` addresses of each member's parameters (0 where it has fewer)."""
    table = torch.zeros(len(member_params), C_MAX_PARAMS, dtype=torch.int64)
    for m, params in enumerate(member_params):
        for k, p in enumerate(params):
            table[m, k] = p.data_ptr()
    return table
