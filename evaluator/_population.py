"""Bookkeeping for a stacked population: which parameters belong to which member.

Stacked layers keep member k's share of every parameter as block k of ``param.reshape(K, -1)``;
activation parameters (β) live in member k's own module. With this map the trainer computes
per-member gradient norms and clipping, and multi-fidelity training cuts one member's weights
and optimizer state out of one population and into another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from evaluator._stacked import StackedActivation


class PopulationParams:
    def __init__(self, model: nn.Module, k: int) -> None:
        self.k = k
        self.member: list[list[tuple[str, nn.Parameter]]] = [[] for _ in range(k)]
        owned: set[int] = set()
        for site_name, site in model.named_modules():
            if isinstance(site, StackedActivation):
                for i, act in enumerate(site.members):
                    for pname, p in act.named_parameters():
                        self.member[i].append((f"{site_name}.members.{i}.{pname}", p))
                        owned.add(id(p))
        self.stacked = [(n, p) for n, p in model.named_parameters() if id(p) not in owned]
        # batch-norm running statistics: per channel, so member k owns block k too
        self.buffers = [(n, b) for n, b in model.named_buffers() if b.dim() > 0]

    def grad_norms(self) -> torch.Tensor:
        """Per-member global gradient norm ``[K]`` (0 where a member has no gradient)."""
        device = self.stacked[0][1].device
        per_param = [torch.linalg.vector_norm(p.grad.detach().reshape(self.k, -1).float(), dim=1)
                     for _, p in self.stacked if p.grad is not None]
        sq = torch.stack(per_param, dim=1).pow(2).sum(dim=1) if per_param else torch.zeros(self.k, device=device)
        for i, params in enumerate(self.member):
            for _, p in params:
                if p.grad is not None:
                    sq[i] += p.grad.detach().float().pow(2).sum()
        return sq.sqrt()

    def scale_grads(self, factors: torch.Tensor) -> None:
        """Multiplies member k's gradients by ``factors[k]`` (per-member clipping, masking)."""
        for _, p in self.stacked:
            if p.grad is not None:
                p.grad.reshape(self.k, -1).mul_(factors.to(p.grad.dtype).unsqueeze(1))
        for i, params in enumerate(self.member):
            for _, p in params:
                if p.grad is not None:
                    p.grad.mul_(factors[i].to(p.grad.dtype))

    def all_params(self) -> list[nn.Parameter]:
        return [p for _, p in self.stacked] + [p for params in self.member for _, p in params]

    # -- one member's state, for continuing it in another population
    def extract(self, optimizer: torch.optim.Optimizer, i: int) -> dict[str, Any]:
        weights: dict[str, torch.Tensor] = {}
        moments: dict[str, dict[str, torch.Tensor]] = {}
        for name, p in self.stacked:
            weights[name] = p.detach().reshape(self.k, -1)[i].clone().cpu()
            moments[name] = _slice_state(optimizer.state.get(p, {}), lambda t: t.reshape(self.k, -1)[i])
        for name, p in self.member[i]:
            key = _member_key(name)
            weights[key] = p.detach().clone().cpu()
            moments[key] = _slice_state(optimizer.state.get(p, {}), lambda t: t)
        buffers = {name: b.reshape(self.k, -1)[i].clone().cpu() for name, b in self.buffers}
        return {"weights": weights, "moments": moments, "buffers": buffers}

    def load(self, optimizer: torch.optim.Optimizer, states: Sequence[dict[str, Any]]) -> None:
        """Loads member states (from :meth:`extract`) into members ``0 … len(states)-1``."""
        with torch.no_grad():
            for i, state in enumerate(states):
                for name, p in self.stacked:
                    p.reshape(self.k, -1)[i].copy_(state["weights"][name])
                    _load_state(optimizer, p, state["moments"][name], lambda t, i=i: t.reshape(self.k, -1)[i])
                for name, p in self.member[i]:
                    key = _member_key(name)
                    p.copy_(state["weights"][key])
                    _load_state(optimizer, p, state["moments"][key], lambda t: t)
                for name, b in self.buffers:
                    b.reshape(self.k, -1)[i].copy_(state["buffers"][name])


def _member_key(name: str) -> str:
    # "layers.1.members.3.beta" -> "layers.1.members.*.beta": the same site in any population
    parts = name.split(".")
    idx = parts.index("members")
    parts[idx + 1] = "*"
    return ".".join(parts)


def _slice_state(state: dict[str, Any], view: Any) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            out[key] = view(value).detach().clone().cpu()
        elif isinstance(value, torch.Tensor):
            out[key] = value.detach().clone().cpu()
    return out


def _load_state(optimizer: torch.optim.Optimizer, p: nn.Parameter, saved: dict[str, torch.Tensor], view: Any) -> None:
    if not saved:
        return
    state = optimizer.state[p]
    for key, value in saved.items():
        if value.dim() == 0:
            state[key] = value.clone().to(p.device) if key == "step" else value.to(p.device)
        else:
            if key not in state:
                state[key] = torch.zeros_like(p)
            view(state[key]).copy_(value)
