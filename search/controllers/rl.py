"""``rl`` — an RNN policy that writes core units token by token, trained with PPO.

The reference controller of "Searching for Activation Functions" (Ramachandran, Zoph, Le 2017):
a recurrent network predicts one component of the core unit ``b(u1(x1), u2(x2))`` per step, the
sampled token is fed back as the next input, and the policy is trained with PPO (Schulman et al.
2017, "Proximal Policy Optimization Algorithms") using an exponential moving average of rewards
as the baseline. Per unit ``i`` the tokens are ``[input1, unary1, input2, unary2, binary]``,
preceded by the unit count when ``min_units < units``. Invalid choices are masked: the inputs of
unit ``i`` are 0..i only (x or an earlier unit's output).

Batched: ``batch_size`` sequences are sampled in one pass of the GRU; proposals pop from that
batch (the base class still deduplicates them). Once ``batch_size`` results have been told, the
policy takes a PPO step on them — clipped ratio, ``epochs`` passes, an entropy bonus — with
advantage = reward − EMA baseline, divided by the batch's reward spread so that the learning
rate does not depend on the fitness's units. The sampling policy's log-probabilities are
recomputed at update time; in the usual loop (ask a batch, tell it) no update happens in
between, so they are exactly the behaviour policy's. Unproposed samples from before an update
are dropped: proposals always come from the current policy.

A rejected candidate (fitness None or not finite) earns the worst fitness told so far (0.0 if
nothing has been scored yet): bad, but on the scale of the real rewards. So does a sample
equivalent to a function already evaluated (the base class reuses its result instead of
evaluating it again): a repeat is wasted budget, and when repeats earned their old fitness a
converged policy kept re-sampling known functions until ``ask`` gave up (5 of 20 seeds on the
test problem). Penalised, the policy behaves like sampling without replacement around its mode.

Everything runs on the CPU in float64 with a seeded ``torch.Generator`` (never the global RNG),
and the state holds weights, optimiser moments, baseline, pending samples and generator state,
so a restored controller — in this or another process — continues exactly.

Example:
    >>> from search import make_controller
    >>> from space import Space
    >>> c = make_controller("rl", Space(unary=("x", "tanh"), binary=("add", "mul")), params={"batch_size": 4})
    >>> len(c.ask(2))
    2
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from search._base import Controller
from search._params import check_float, check_int, require_core_space
from search._registry import register
from space import Candidate, Space, Unit, fingerprint

if TYPE_CHECKING:
    import torch

_UNIT_FIELDS = ("input1", "unary1", "input2", "unary2", "binary")


@register
class RL(Controller):
    """PPO-trained GRU policy over core-unit tokens (core spaces only).

    Args:
        batch_size: sequences sampled per batch and results per PPO update. Small, because a
            service budget is hundreds of evaluations, not the paper's thousands: on the test
            problem 4 found a top-5 function in a median 9.5 evaluations, 8 in 15.5.
        hidden: GRU width (the paper's controller is small; 32 is plenty for 1-3 units).
        lr: Adam learning rate.
        epochs: PPO passes over each batch.
        clip: PPO ratio clip ε.
        entropy: entropy bonus weight (keeps the policy exploring).
        baseline_decay: EMA decay of the reward baseline (Zoph & Le 2017, Ramachandran et al. 2017).
        explore: weight of a uniform distribution mixed into every choice (see ``_run``).
    """

    name = "rl"

    def __init__(
        self, space: Space, *, seed: int = 0, batch_size: int = 4, hidden: int = 32, lr: float = 0.02,
        epochs: int = 4, clip: float = 0.2, entropy: float = 0.01, baseline_decay: float = 0.9,
        explore: float = 0.05,
    ) -> None:
        super().__init__(space, seed=seed)
        require_core_space("rl", space, "its policy emits core-unit tokens")
        check_int("rl", "batch_size", batch_size, 1, 1024)
        check_int("rl", "hidden", hidden, 1, 1024)
        check_int("rl", "epochs", epochs, 1, 100)
        check_float("rl", "lr", lr, 0.0, low_open=True)
        check_float("rl", "clip", clip, 0.0, low_open=True)
        check_float("rl", "entropy", entropy, 0.0)
        check_float("rl", "baseline_decay", baseline_decay, 0.0, 1.0)
        check_float("rl", "explore", explore, 0.0, 1.0)
        self.explore = float(explore)
        self.batch_size, self.hidden, self.lr, self.epochs = batch_size, hidden, float(lr), epochs
        self.clip, self.entropy, self.baseline_decay = float(clip), float(entropy), float(baseline_decay)
        self._min_units = space.units if space.min_units is None else space.min_units
        self._steps = self._step_ranges()
        self._queue: list[Candidate] = []  # sampled, not yet proposed
        self._buffer: list[tuple[Candidate, float | None, bool]] = []  # (candidate, fitness, repeat) since the last update
        self._baseline: float | None = None
        self._worst: float | None = None
        self._repeat = False  # whether the last proposal repeats an evaluated function
        self._build()

    # -- tokens
    def _step_ranges(self) -> list[tuple[int, int]]:
        """(offset, size) in the joint vocabulary of each step's choices."""
        units, n_unary = self.space.units, len(self.space.unary)
        input_at, unary_at, binary_at = units, 2 * units, 2 * units + n_unary
        steps = [(0, units - self._min_units + 1)] if self._min_units < units else []
        for i in range(units):
            for field in _UNIT_FIELDS:
                if field.startswith("input"):
                    steps.append((input_at, i + 1))
                elif field.startswith("unary"):
                    steps.append((unary_at, n_unary))
                else:
                    steps.append((binary_at, len(self.space.binary)))
        return steps

    def _encode(self, candidate: Candidate) -> tuple[list[int], int]:
        """Choice index per step (unused units padded with 0) and the number of steps used."""
        assert isinstance(candidate, tuple)
        head = [len(candidate) - self._min_units] if self._min_units < self.space.units else []
        body: list[int] = []
        for unit in candidate:
            body += [unit.input1, self.space.unary.index(unit.unary1), unit.input2,
                     self.space.unary.index(unit.unary2), self.space.binary.index(unit.binary)]
        used = len(head) + len(body)
        return head + body + [0] * (len(self._steps) - used), used

    def _decode(self, choices: list[int]) -> Candidate:
        head = 1 if self._min_units < self.space.units else 0
        n = self._min_units + (choices[0] if head else 0)
        unary, binary = self.space.unary, self.space.binary
        return tuple(
            Unit(unary[u1], unary[u2], binary[b], i1, i2)
            for i1, u1, i2, u2, b in (choices[head + 5 * i: head + 5 * i + 5] for i in range(n))
        )

    # -- the policy
    def _build(self) -> None:
        import torch

        self._generator = torch.Generator().manual_seed(self.seed)
        vocab = self._steps[-1][0] + self._steps[-1][1]
        self._start = vocab  # an extra token opens every sequence
        # built on the meta device (no global-RNG draws), then initialised from our generator
        # with torch's GRU init
        meta, f64 = torch.device("meta"), torch.float64
        self._policy = torch.nn.ModuleDict({
            "embed": torch.nn.Embedding(vocab + 1, self.hidden, device=meta, dtype=f64),
            "cell": torch.nn.GRUCell(self.hidden, self.hidden, device=meta, dtype=f64),
            "head": torch.nn.Linear(self.hidden, vocab, device=meta, dtype=f64),
        }).to_empty(device="cpu")
        bound = 1.0 / math.sqrt(self.hidden)
        with torch.no_grad():
            for weights in self._policy.parameters():
                weights.uniform_(-bound, bound, generator=self._generator)
        # Adam by hand (a few lines): its moments serialise plainly, and torch.optim's first
        # import costs about 2 s of torch._dynamo loading in a process that never trains
        self._adam_step = 0
        self._moments = [torch.zeros_like(p) for p in self._policy.parameters() for _ in (0, 1)]

    def _run(self, choices: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Walks the steps; samples when ``choices`` is None, else scores them.
        Returns (choices, log-probability per step, entropy per step), each (batch, steps)."""
        import torch

        h = torch.zeros(batch, self.hidden, dtype=torch.float64)
        token = torch.full((batch,), self._start, dtype=torch.long)
        picked, logps, entropies = [], [], []
        for t, (offset, size) in enumerate(self._steps):
            h = self._policy["cell"](self._policy["embed"](token), h)
            logits = self._policy["head"](h)[:, offset: offset + size]  # masking: only this step's choices
            # an ε-uniform floor on every choice: however peaked the policy, each step still
            # tries everything, so ``ask`` keeps finding new functions (the floor is part of the
            # policy PPO scores, so its ratios stay exact)
            probs = (1.0 - self.explore) * torch.softmax(logits, dim=1) + self.explore / size
            logp = probs.log()
            if choices is None:
                choice = torch.multinomial(logp.exp(), 1, generator=self._generator).squeeze(1)
            else:
                choice = choices[:, t]
            picked.append(choice)
            logps.append(logp.gather(1, choice[:, None]).squeeze(1))
            entropies.append(-(logp.exp() * logp).sum(dim=1))
            token = choice + offset
        return torch.stack(picked, 1), torch.stack(logps, 1), torch.stack(entropies, 1)

    def _sample_batch(self) -> None:
        import torch

        with torch.no_grad():
            choices, _, _ = self._run(None, self.batch_size)
        self._queue = [self._decode(row) for row in choices.tolist()]

    def _update(self) -> None:
        import torch

        worst = 0.0 if self._worst is None else self._worst
        rewards = torch.tensor([worst if f is None else f for _, f, _ in self._buffer], dtype=torch.float64)
        novel = [worst if f is None else f for _, f, repeat in self._buffer if not repeat]
        encoded = [self._encode(c) for c, _, _ in self._buffer]
        choices = torch.tensor([e for e, _ in encoded], dtype=torch.long)
        used = torch.tensor([[t < n for t in range(len(self._steps))] for _, n in encoded], dtype=torch.float64)
        # the baseline tracks the reward of *new* evaluations: were repeats' penalties averaged
        # in, it would sink to the penalty and stop pushing a converged policy off known functions
        mean = sum(novel) / len(novel) if novel else None
        baseline = (mean if mean is not None else float(rewards.mean())) if self._baseline is None else self._baseline
        spread = float(rewards.std()) if len(rewards) > 1 else 0.0
        advantage = (rewards - baseline) / (spread if spread > 1e-12 else 1.0)
        if mean is not None:
            self._baseline = self.baseline_decay * baseline + (1.0 - self.baseline_decay) * mean
        with torch.no_grad():
            old = (self._run(choices, len(rewards))[1] * used).sum(1)
        for _ in range(self.epochs):
            _, logp, ent = self._run(choices, len(rewards))
            ratio = torch.exp((logp * used).sum(1) - old)
            surrogate = torch.minimum(ratio * advantage, ratio.clamp(1 - self.clip, 1 + self.clip) * advantage)
            loss = -surrogate.mean() - self.entropy * (ent * used).sum(1).mean()
            self._policy.zero_grad()
            loss.backward()
            self._adam()
        self._buffer, self._queue = [], []

    def _adam(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        import torch

        self._adam_step += 1
        correction1, correction2 = 1 - beta1**self._adam_step, 1 - beta2**self._adam_step
        with torch.no_grad():
            for i, weights in enumerate(self._policy.parameters()):
                assert weights.grad is not None
                m, v = self._moments[2 * i], self._moments[2 * i + 1]
                m.mul_(beta1).add_(weights.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(weights.grad, weights.grad, value=1 - beta2)
                weights.sub_(self.lr * (m / correction1) / ((v / correction2).sqrt() + eps))

    # -- controller hooks
    def _propose(self, rng: random.Random) -> Candidate:
        if not self._queue:
            with _one_thread():
                self._sample_batch()
        candidate = self._queue.pop(0)
        # the base calls _observe at once for a function evaluated before (see the module doc)
        self._repeat = fingerprint(self.space.to_expr(candidate)) in self._results
        return candidate

    def _observe(self, candidate: Candidate, fitness: float | None) -> None:
        repeat, self._repeat = self._repeat, False
        if repeat or (fitness is not None and not math.isfinite(fitness)):
            fitness = None
        if fitness is not None:
            self._worst = fitness if self._worst is None else min(self._worst, fitness)
        self._buffer.append((candidate, fitness, repeat))
        if len(self._buffer) >= self.batch_size:
            with _one_thread():
                self._update()

    def _state(self) -> dict[str, Any]:
        return {
            "policy": {k: v.tolist() for k, v in self._policy.state_dict().items()},
            "adam": {"step": self._adam_step, "moments": [m.tolist() for m in self._moments]},
            "generator": self._generator.get_state().tolist(),
            "queue": [self.space.candidate_to_json(c) for c in self._queue],
            "buffer": [[self.space.candidate_to_json(c), f, r] for c, f, r in self._buffer],
            "baseline": self._baseline,
            "worst": self._worst,
        }

    def _load(self, state: dict[str, Any]) -> None:
        import torch

        self._policy.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in state["policy"].items()})
        self._adam_step = int(state["adam"]["step"])
        self._moments = [torch.tensor(m, dtype=torch.float64) for m in state["adam"]["moments"]]
        self._generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self._queue = [self.space.candidate_from_json(c) for c in state["queue"]]
        self._buffer = [(self.space.candidate_from_json(c), f, bool(r)) for c, f, r in state["buffer"]]
        self._baseline, self._worst = state["baseline"], state["worst"]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Runs the policy's torch ops single-threaded, restoring the process's setting after.

    The ops are tiny: with two busy cores an 8x32 matmul took 23 ms through the OpenMP pool and
    3 us on one thread. One thread also makes every reduction's order independent of the
    machine's thread count, which exact resume in another process relies on.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
