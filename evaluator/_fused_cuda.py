"""Fused population activations on CUDA: every member's candidate in one jiterator kernel.

``space._cuda_source`` writes the kernel (values and local derivatives of every member's
expression in one pass); PyTorch's jiterator compiles it with NVRTC at the first call and
caches it. :class:`FusedCudaActivation` applies it to a population's activation site: member
``m``'s slice of ``x`` viewed as ``[O, K, R, C, I]`` (see ``evaluator._fused.member_layout``),
the member index and each parameter slot broadcast over it, so one launch serves every member;
the backward pass multiplies the incoming gradient by the saved derivatives.

Like the CPU kernels it is an accelerator, never a requirement: with ``ACTSEARCH_FUSED_KERNELS=0``,
without the jiterator, for operators without a C form, more than ``CUDA_MAX_SLOTS`` parameters
or a kernel that fails to compile (warned once), the members run their PyTorch code.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch

from evaluator import _fused
from space import Expr, cuda_supported, population_cuda_source

_FAILED: set[str] = set()  # sources NVRTC rejected: not tried again in this process


class CudaPopulationKernel:
    """The jitted kernel of one population: ``exprs[kinds[m]]`` is member m's candidate."""

    def __init__(self, exprs: Sequence[Expr]) -> None:
        distinct = list(dict.fromkeys(exprs))
        self.slots = max(len(e.params()) for e in distinct)
        self.kinds = [distinct.index(e) for e in exprs]
        self.source = population_cuda_source(distinct, self.slots)
        from torch.cuda import jiterator

        self._fn = jiterator._create_multi_output_jit_fn(self.source, num_outputs=2 + self.slots)
        self._members: dict[torch.device, torch.Tensor] = {}
        self.compiled = False  # NVRTC compiles at the first call: only that call can fail to compile

    def members(self, device: torch.device, k: int) -> torch.Tensor:
        """``[1, K, 1, 1, 1]``: each member's kind, on ``device`` (made once)."""
        if device not in self._members:
            self._members[device] = torch.tensor([float(kind) for kind in self.kinds], device=device).view(1, k, 1, 1, 1)
        return self._members[device]

    def __call__(self, x: torch.Tensor, member: torch.Tensor, slots: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """``(y, d, dp_0, …)`` shaped like ``x``; ``member`` holds each position's kind."""
        out: tuple[torch.Tensor, ...] = self._fn(x, member, *slots)
        return out


def cuda_population_kernel(exprs: Sequence[Expr]) -> CudaPopulationKernel | None:
    """The kernel for members with candidates ``exprs``, or None where they must run their
    PyTorch code (see the module docstring)."""
    if not _fused.enabled() or not cuda_supported(exprs):
        return None
    try:
        kernel = _kernel(tuple(exprs))
    except ImportError as exc:  # a PyTorch build without the jiterator
        _fused._warn_once(f"no fused CUDA kernels in this PyTorch ({exc}), using PyTorch ops")
        return None
    return None if kernel.source in _FAILED else kernel


@functools.lru_cache(maxsize=64)
def _kernel(exprs: tuple[Expr, ...]) -> CudaPopulationKernel:
    # one jitted function per population, whatever builds it again (a compaction, a resumed run)
    return CudaPopulationKernel(exprs)


def apply(kernel: CudaPopulationKernel, x: torch.Tensor, layout: Sequence[int],
          member_params: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor | None:
    """Every member's activation of ``x`` (contiguous; ``layout`` from ``member_layout``), or
    None if the kernel fails to compile here (warned once; the caller runs the PyTorch code)."""
    k, outer, _, _, rows, channels, inner = layout
    view = x.reshape(outer, k, rows, channels, inner)
    member = kernel.members(x.device, k)
    slots = []
    for s in range(kernel.slots):  # slot s: member m's β_s per channel, or zeros where it has fewer
        per_member = [ps[s].reshape(channels) if s < len(ps) else torch.zeros(channels, device=x.device)
                      for ps in member_params]
        slots.append(torch.stack(per_member).to(torch.float32).view(1, k, 1, channels, 1))
    try:
        y: torch.Tensor = FusedCudaActivation.apply(kernel, member, view.float(), *slots)
    except RuntimeError as exc:
        if kernel.compiled or isinstance(exc, torch.OutOfMemoryError):
            raise  # not a compile error: the run fails as it would with the PyTorch code
        _FAILED.add(kernel.source)  # NVRTC rejected the source
        _fused._warn_once(f"compiling the fused CUDA kernel failed, using PyTorch ops: {str(exc)[-2000:]}")
        return None
    kernel.compiled = True
    return y.to(x.dtype).reshape(x.shape)


class FusedCudaActivation(torch.autograd.Function):
    """``y = f_m(x_m)`` for every member m; keeps the local derivatives for backward."""

    @staticmethod
    def forward(ctx: Any, kernel: CudaPopulationKernel, member: torch.Tensor, x: torch.Tensor,
                *slots: torch.Tensor) -> torch.Tensor:
        y, d, *dps = kernel(x, member, slots)
        ctx.save_for_backward(d, *dps)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, gy: torch.Tensor) -> Any:
        d, *dps = ctx.saved_tensors
        # a parameter slot's gradient: summed over everything but members and channels
        slot_grads = [(gy * dp).sum(dim=(0, 2, 4), keepdim=True) for dp in dps]
        return (None, None, gy * d, *slot_grads)

