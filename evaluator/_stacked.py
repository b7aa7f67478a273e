"""Stacked layers: K independent child networks trained as one ("population batching").

Every layer holds K members' weights stacked on a leading dimension and computes all members in
one batched kernel (``bmm``/``einsum``; grouped convolution for conv layers). Activations are
the one place where members differ: :class:`StackedActivation` applies member k's compiled
function to member k's slice. Member k's parameters are initialised from member k's own
generator, so a member of a population equals the same network trained alone (within float
tolerance: the batched kernels may sum in another order; deep batch-norm networks in fp32 only
approximately, since rounding differences grow through many normalisations). Over thousands of
steps such differences can grow into fitness differences that are small against the seed-to-seed
spread but not zero: fitness is reproducible for a given population, not bit-identical across
population sizes.

Layouts: dense tensors are ``[K, B, …, features]``; convolutional tensors are
``[B, K*C, H, W]`` (members side by side in the channel dimension, as grouped convolution
wants them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from evaluator import _fused_cuda
from evaluator._fused import (
    FusedActivation,
    PopulationKernel,
    member_layout,
    parameter_pointers,
    population_kernel,
)
from space import Expr

_MIN_STORED_OUT = 16


def _uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)


def _uniform_into(view: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    """``view`` (maybe strided) filled as a contiguous tensor of its shape would be."""
    values = torch.empty(view.shape, dtype=view.dtype, device=view.device)
    _uniform_(values, bound, generator)
    with torch.no_grad():
        view.copy_(values)


class Stacked(nn.Module):
    """A layer holding K members' parameters; :func:`reset_stacked` initialises member k from
    generator k. Any new stacked layer subclasses this, so no member is ever initialised from
    the global random state (which would tie it to the population it was trained in)."""

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        raise NotImplementedError


class StackedLinear(Stacked):
    """K linear layers; input ``[K, …, in]``, output ``[K, …, out]`` (PyTorch's default init).

    Fewer than 16 outputs are stored padded to 16 with zero columns (which get zero gradients,
    so stay zero) and sliced off: MKL's batched GEMM with 10 output columns ran at a quarter of
    the speed it reaches with 16 (0.40 against 0.12 ms for 32 members, 128×128 → 10, and the
    weight gradient alike), so the padded product is faster than the exact one.
    """

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.out_features = out_features
        stored = max(out_features, _MIN_STORED_OUT)
        self.weight = nn.Parameter(torch.zeros(k, in_features, stored))
        self.bias = nn.Parameter(torch.zeros(k, stored)) if bias else None

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        fan_in, out = self.weight.shape[1], self.out_features
        bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            self.weight.zero_()
            if self.bias is not None:
                self.bias.zero_()
        for k, gen in enumerate(generators):
            # kaiming_uniform(a=sqrt(5)) as nn.Linear: bound = 1/sqrt(fan_in) for weights too;
            # drawn contiguous, so the padding never changes which numbers a member gets
            _uniform_into(self.weight[k, :, :out], bound, gen)
            if self.bias is not None:
                _uniform_into(self.bias[k, :out], bound, gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = x.shape[0]
        flat = x.reshape(k, -1, x.shape[-1])
        if self.bias is not None:
            out = torch.baddbmm(self.bias.unsqueeze(1), flat, self.weight)  # bias fused into the GEMM
        else:
            out = torch.bmm(flat, self.weight)
        if out.shape[-1] != self.out_features:
            out = out[..., : self.out_features]
        return out.reshape(*x.shape[:-1], self.out_features)


class StackedConv2d(Stacked):
    """K conv layers as one grouped convolution on ``[B, K*C, H, W]``."""

    def __init__(self, k: int, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(k * in_channels, k * out_channels, kernel_size, stride=stride,
                              padding=padding, groups=k, bias=bias)

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        weight = self.conv.weight
        per = weight.shape[0] // self.k
        fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
        bound = 1.0 / math.sqrt(fan_in)
        for k, gen in enumerate(generators):
            _uniform_(weight[k * per : (k + 1) * per], bound, gen)
            if self.conv.bias is not None:
                _uniform_(self.conv.bias[k * per : (k + 1) * per], bound, gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class StackedLayerNorm(Stacked):
    """K layer norms over the last dimension of ``[K, …, d]``."""

    def __init__(self, k: int, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(k, d))
        self.bias = nn.Parameter(torch.zeros(k, d))
        self.eps = eps

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normed = torch.nn.functional.layer_norm(x, x.shape[-1:], eps=self.eps)
        return normed * self.weight.reshape(shape) + self.bias.reshape(shape)


class StackedActivation(nn.Module):
    """Member k's activation on member k's slice of ``split_dim``.

    ``activations[k]`` is a compiled candidate module whose per-channel parameters lie along
    its ``channel_dim`` within the slice. On the CPU in fp32 all members run as one call of
    fused C kernels (``evaluator._fused``), on CUDA as one jiterator kernel
    (``evaluator._fused_cuda``), when they can; otherwise each member's PyTorch code runs on
    its slice. (Running members on a thread pool was tried and measured slower: every
    Python thread that enters an ATen parallel region brings its own OpenMP team, and the idle
    teams' spinning slowed even later single-member runs.)
    """

    def __init__(self, activations: Sequence[nn.Module], split_dim: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(activations)
        self.split_dim = split_dim
        self._kernels: dict[bool, PopulationKernel | None] = {}  # by channels_last
        self._cuda_kernels: dict[str, _fused_cuda.CudaPopulationKernel | None] = {}  # by device
        self._layouts: dict[tuple[int, ...], torch.Tensor | None] = {}
        self._params: list[list[nn.Parameter]] | None = None
        self._pointers: torch.Tensor | None = None
        self._addresses: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self._fused(x)
        if fused is not None:
            return fused
        if len(self.members) == 1:
            out: torch.Tensor = self.members[0](x)
            return out
        chunks = x.chunk(len(self.members), dim=self.split_dim)
        return torch.cat([act(c) for act, c in zip(self.members, chunks, strict=True)], dim=self.split_dim)

    def _fused(self, x: torch.Tensor) -> torch.Tensor | None:
        if x.device.type == "cuda":
            return self._fused_cuda(x)
        if x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16) and x.is_contiguous():
            # autocast hands the activations bf16: the float32 kernel and back, as on CUDA (the
            # members' PyTorch code in bf16 made a mnist1d-mlp K=32 step 16-17 ms, this 12-13)
            wide = self._fused(x.float())
            return None if wide is None else wide.to(x.dtype)
        if x.device.type != "cpu" or x.dtype != torch.float32 or not x.is_contiguous():
            return None
        layout = self._layout(tuple(x.shape))
        if layout is None:
            return None
        channels_last = bool(layout[6] == 1)
        if channels_last not in self._kernels:
            self._kernels[channels_last] = population_kernel(self._exprs(), channels_last=channels_last)
        kernel = self._kernels[channels_last]
        if kernel is None:
            return None
        flat, pointers = self._parameter_table()
        if not torch.is_grad_enabled() or not (x.requires_grad or any(p.requires_grad for p in flat)):
            return kernel.forward(x, layout, pointers)  # evaluation: no derivatives to keep
        out: torch.Tensor = FusedActivation.apply(kernel, layout, pointers, x, *flat)
        return out

    def _fused_cuda(self, x: torch.Tensor) -> torch.Tensor | None:
        # one member's PyTorch code is a few launches already: alone on an H100, mnist1d-mlp
        # took 1.83 ms per step with it and 2.21 with the kernel (32 members: 3.81 with it)
        # it computes in float32: float64 members keep their PyTorch code
        usable = x.is_contiguous() and len(self.members) > 1 and x.dtype in (torch.float32, torch.bfloat16, torch.float16)
        layout = self._layout(tuple(x.shape)) if usable else None
        if layout is None:
            return None
        device = str(x.device)
        if device not in self._cuda_kernels:
            self._cuda_kernels[device] = _fused_cuda.cuda_population_kernel(self._exprs())
        kernel = self._cuda_kernels[device]
        if kernel is None:
            return None
        y = _fused_cuda.apply(kernel, x, layout.tolist(), self._member_params())
        if y is None:  # it did not compile here: the PyTorch code from now on
            self._cuda_kernels[device] = None
        return y

    def _member_params(self) -> list[list[nn.Parameter]]:
        """Every member's parameters, in its expression's order."""
        if self._params is None:
            self._params = [[getattr(m, name) for name in e.params()] for m, e in zip(self.members, self._exprs(), strict=True)]
        return self._params

    def _exprs(self) -> list[Expr]:
        """Each member's candidate (compiled candidate modules carry it; see _layout)."""
        exprs = [getattr(m, "expr", None) for m in self.members]
        return [e for e in exprs if isinstance(e, Expr)]

    def _parameter_table(self) -> tuple[list[nn.Parameter], torch.Tensor]:
        """Every member's parameters in expression order, and the kernels' pointer table
        (rebuilt only if a parameter's storage moved; per step it was 0.4 ms of Python)."""
        params = self._member_params()
        flat = [p for member in params for p in member]
        addresses = [p.data_ptr() for p in flat]
        if self._pointers is None or addresses != self._addresses:
            self._pointers, self._addresses = parameter_pointers(params), addresses
        return flat, self._pointers

    def _layout(self, shape: tuple[int, ...]) -> torch.Tensor | None:
        """The kernels' layout of ``x`` (see ``space._c_source``), or None where the members
        run their PyTorch code: modules that are not compiled candidates, or whose per-channel
        parameters do not lie along one channel dimension of the slice."""
        if shape not in self._layouts:
            dims = {getattr(m, "channel_dim", None) for m in self.members}
            layout = None
            if len(self._exprs()) == len(self.members) and len(dims) == 1 and None not in dims:
                # the member modules' channel_dim counts in a member's slice, which has x's rank
                layout = member_layout(shape, len(self.members), self.split_dim, dims.pop())  # type: ignore[arg-type]
            if layout is not None and not all(p.numel() == layout[5] for m in self.members for p in m.parameters()):
                layout = None  # scalar parameters: not a layout the kernels know
            self._layouts[shape] = None if layout is None else torch.tensor(layout, dtype=torch.int64)
        return self._layouts[shape]


def reset_stacked(model: nn.Module, generators: Sequence[torch.Generator]) -> None:
    """Initialises every stacked layer of ``model``, member k from ``generators[k]``."""
    for module in model.modules():
        if isinstance(module, Stacked):
            module.reset_parameters(generators)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_parameters()  # weight 1, bias 0, fresh running statistics


def member_slices(param: torch.Tensor, k: int) -> torch.Tensor:
    """``param`` viewed as ``[K, -1]``: member k's share of a stacked parameter.

    Stacked dense parameters carry K first; grouped-conv and batch-norm parameters carry
    K*C first, so member k owns a contiguous block either way.
    """
    return param.reshape(k, -1)


def padded_shortcut(x: torch.Tensor, k: int, stride: int, pad: int) -> torch.Tensor:
    """ResNet's parameter-free shortcut (option A) for K members on ``[B, K·C, H, W]``: the
    identity, or a stride-``stride`` subsample with ``pad`` zero channels, added to each member's
    block of channels, not at the end of all K·C."""
    if stride == 1 and pad == 0:
        return x
    x = x[:, :, ::stride, ::stride]
    b, _, h, w = x.shape
    per = torch.nn.functional.pad(x.reshape(b, k, -1, h, w), (0, 0, 0, 0, pad // 2, pad - pad // 2))
    return per.reshape(b, -1, h, w)
