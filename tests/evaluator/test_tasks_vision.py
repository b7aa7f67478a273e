"""digits-cnn, cifar10-resnet20 (on generated pickles, never real CIFAR) and npz tasks.

The central check is the population-batching contract: a member trained in a population of
three equals the same member trained alone, which catches any per-member layout bug in the
stacked convs, batch norms, shortcuts and heads.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluator import Member, RejectionPolicy, Task, TaskError, get_task, train_population
from evaluator.tasks.npz import NpzClassification, NpzRegression
from space import parse

MEMBERS = [Member(parse("relu(x)"), 0), Member(parse("tanh(x)"), 1), Member(parse("x*sigmoid(x)"), 2)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/evaluator/conftest.py


def write_cifar(root: Path, per_batch: int = 16) -> Path:
    """A tiny CIFAR-10 python-version directory: random uint8 images, labels 0…9."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}
        with (root / name).open("wb") as f:
            pickle.dump(batch, f)
    return root


def write_npz(path: Path, **overrides: np.ndarray | None) -> Path:
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray | None] = {
        "x_train": rng.normal(size=(48, 6)).astype(np.float32), "y_train": rng.integers(0, 3, 48),
        "x_val": rng.normal(size=(20, 6)).astype(np.float32), "y_val": rng.integers(0, 3, 20),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _regression(path: Path) -> Path:
    rng = np.random.default_rng(2)
    x_train, x_val = rng.normal(size=(48, 6)), rng.normal(size=(20, 6))
    return write_npz(path, x_train=x_train, y_train=100.0 + 10.0 * np.sin(x_train[:, 0]),
                     x_val=x_val, y_val=100.0 + 10.0 * np.sin(x_val[:, 0]))


def _images(path: Path) -> Path:
    rng = np.random.default_rng(3)
    return write_npz(path, x_train=rng.normal(size=(40, 2, 6, 6)), y_train=rng.integers(0, 4, 40),
                     x_val=rng.normal(size=(12, 2, 6, 6)), y_val=rng.integers(0, 4, 12))


TASKS: dict[str, Callable[[Path], Task]] = {
    "digits-cnn": lambda tmp: get_task("digits-cnn"),
    "cifar10-resnet20": lambda tmp: get_task("cifar10-resnet20", path=str(write_cifar(tmp / "cifar"))),
    "npz-mlp": lambda tmp: get_task("npz", path=str(write_npz(tmp / "d.npz"))),
    "npz-cnn": lambda tmp: get_task("npz", path=str(_images(tmp / "i.npz")), model="cnn"),
    "npz-regression": lambda tmp: get_task("npz", path=str(_regression(tmp / "r.npz"))),
}


def _train(task: Task, members: list[Member], steps: int = 3) -> list[dict[str, float]]:
    budget = replace(task.budget, batch_size=16, eval_batch_size=256)
    run = train_population(task, members, budget=budget, steps=steps, policy=RejectionPolicy.off())
    for r in run.results:
        assert r.status == "ok", (r.reason, r.detail)
        assert r.fitness is not None and math.isfinite(r.fitness)
    return [{**r.metrics, "fitness": r.fitness or 0.0} for r in run.results]


@pytest.fixture
def float64_for_resnet(request: pytest.FixtureRequest) -> Iterator[None]:
    # In fp32, 19 batch norms over a batch of 16 random-label images make the backward pass so
    # ill-conditioned that the grouped and the single conv's rounding alone moves gradients by
    # ~1 %, and Adam's first, sign-like step turns that into different weights. In float64
    # the member alone and in the population agree to the last digits, which is the layout check.
    before = torch.get_default_dtype()
    if request.node.callspec.params["name"] == "cifar10-resnet20":
        torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("name", list(TASKS))
def test_member_of_population_equals_member_alone(name: str, tmp_path: Path, float64_for_resnet: None) -> None:
    task = TASKS[name](tmp_path)
    together = _train(task, MEMBERS)
    for member, metrics in zip(MEMBERS, together, strict=True):
        alone = _train(task, [member])[0]
        assert metrics.keys() == alone.keys()
        for key, value in alone.items():
            assert metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (member, key)


@pytest.mark.parametrize("name", list(TASKS))
def test_same_seed_gives_identical_results(name: str, tmp_path: Path) -> None:
    task = TASKS[name](tmp_path)
    assert _train(task, MEMBERS[:2], steps=2) == _train(task, MEMBERS[:2], steps=2)


def test_digits_split_is_fixed_and_stratified() -> None:
    data = get_task("digits-cnn").load()
    assert tuple(data.x_train.shape) == (1197, 1, 8, 8) and tuple(data.x_val.shape) == (600, 1, 8, 8)
    assert 0.0 <= float(data.x_train.min()) and float(data.x_train.max()) <= 1.0
    counts = torch.bincount(data.y_val, minlength=10)
    assert int(counts.min()) >= 57 and int(counts.max()) <= 62  # ~60 of each class
    assert torch.equal(data.y_val, get_task("digits-cnn").load().y_val)


def test_cifar_reads_the_generated_pickles(tmp_path: Path) -> None:
    data = get_task("cifar10-resnet20", path=str(write_cifar(tmp_path))).load()
    assert data.x_train.dtype == torch.uint8 and tuple(data.x_train.shape) == (80, 3, 32, 32)
    assert tuple(data.x_val.shape) == (16, 3, 32, 32) and data.y_train.dtype == torch.int64


def test_cifar_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTSEARCH_CIFAR10_DIR", str(write_cifar(tmp_path)))
    assert get_task("cifar10-resnet20").load().x_train.shape[0] == 80


def test_cifar_missing_directory_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(TaskError) as err:
        get_task("cifar10-resnet20", path=str(missing)).load()
    message = str(err.value)
    assert str(missing) in message and "data_batch_1" in message and "test_batch" in message
    assert "ACTSEARCH_CIFAR10_DIR" in message

    monkeypatch.delenv("ACTSEARCH_CIFAR10_DIR", raising=False)
    task = get_task("cifar10-resnet20")  # describing the task works without the data
    assert task.describe()["device"] == "cuda"
    with pytest.raises(TaskError, match="ACTSEARCH_CIFAR10_DIR"):
        task.load()


def test_cifar_missing_file_and_bad_pickle(tmp_path: Path) -> None:
    root = write_cifar(tmp_path)
    (root / "data_batch_3").unlink()
    with pytest.raises(TaskError, match="missing data_batch_3"):
        get_task("cifar10-resnet20", path=str(root)).load()
    with (root / "data_batch_3").open("wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(TaskError, match=r"uint8 \[N, 3072\]"):
        get_task("cifar10-resnet20", path=str(root)).load()
    with (root / "data_batch_3").open("wb") as f:
        pickle.dump(Path("/"), f)  # anything but arrays is refused, never rebuilt
    with pytest.raises(TaskError, match="not a CIFAR-10 python batch"):
        get_task("cifar10-resnet20", path=str(root)).load()


def test_regression_fitness_is_negative_val_mse(tmp_path: Path) -> None:
    task = get_task("npz", path=str(_regression(tmp_path / "r.npz")))
    assert task.objective == "val_mse" and not task.maximize
    run = train_population(task, [MEMBERS[0]], steps=50, policy=RejectionPolicy.off())
    result = run.results[0]
    assert result.fitness == -result.metrics["val_mse"]
    # targets are ~100 ± 10: predicting in the data's units, the error is far below 100²
    assert result.metrics["val_mse"] < 100.0


def test_npz_classification_counts_classes(tmp_path: Path) -> None:
    task = get_task("npz", path=str(write_npz(tmp_path / "d.npz")))
    assert task.objective == "val_accuracy" and task.maximize
    assert isinstance(task, NpzClassification) and task.out_features == 3


@pytest.mark.parametrize(("overrides", "model", "match"), [
    ({"y_val": None}, "mlp", "missing array.*y_val"),
    ({"y_train": np.zeros(47, np.int64)}, "mlp", "x_train has 48 samples but y_train has 47"),
    ({"x_val": np.full((20, 6), np.nan)}, "mlp", r"x_val contains 120 NaN"),
    ({"y_train": np.zeros(48)}, "mlp", "both be integer .classification. or both floating"),
    ({"y_train": -np.ones(48, np.int64)}, "mlp", "y_train has a negative class label"),
    ({"x_val": np.zeros((20, 5))}, "mlp", r"x_val samples have shape \[5\] but x_train samples \[6\]"),
    ({}, "cnn", r"model 'cnn' needs x_train as images \[N, C, H, W\]"),
    ({}, "rnn", "npz model must be one of mlp, cnn"),
    # TensorFlow's image layout, which the CNN would read as 8 channels of 8x3 images
    ({"x_train": np.zeros((48, 8, 8, 3)), "x_val": np.zeros((20, 8, 8, 3))}, "cnn",
     r"x_train \[48, 8, 8, 3\] looks channels-last .*np.transpose\(x, \(0, 3, 1, 2\)\)"),
])
def test_npz_validation_errors_are_clear(tmp_path: Path, overrides: dict[str, np.ndarray | None],
                                         model: str, match: str) -> None:
    path = write_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(TaskError, match=match):
        get_task("npz", path=str(path), model=model)


def test_npz_kind_decides_what_the_targets_train_as(tmp_path: Path) -> None:
    labels = np.random.default_rng(4).integers(0, 3, 68)
    as_floats = write_npz(tmp_path / "f.npz", y_train=labels[:48].astype(np.float32), y_val=labels[48:] * 1.0)
    assert isinstance(get_task("npz", path=str(as_floats)), NpzRegression)  # floats: regression unless told
    task = get_task("npz", path=str(as_floats), kind="classification")
    assert isinstance(task, NpzClassification) and task.out_features == 3
    data = task.load()
    assert data.y_train.dtype == torch.int64 and data.y_train.tolist() == labels[:48].tolist()

    counts = write_npz(tmp_path / "c.npz")  # integer targets
    regression = get_task("npz", path=str(counts), kind="regression")
    assert isinstance(regression, NpzRegression) and regression.load().y_val.dtype == torch.float32

    flags = write_npz(tmp_path / "b.npz", y_train=labels[:48] > 0, y_val=labels[48:] > 0)
    binary = get_task("npz", path=str(flags))
    assert isinstance(binary, NpzClassification) and binary.out_features == 2

    halves = write_npz(tmp_path / "h.npz", y_train=np.r_[np.zeros(40), 0.5, np.ones(7)])
    with pytest.raises(TaskError, match=r"y_train must hold whole-number class labels .* 0.5 at index \(40,\)"):
        get_task("npz", path=str(halves), kind="classification")
    with pytest.raises(TaskError, match="npz kind must be one of auto, classification, regression; got 'labels'"):
        get_task("npz", path=str(counts), kind="labels")


def test_npz_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="does not exist"):
        get_task("npz", path=str(tmp_path / "absent.npz"))


@pytest.mark.parametrize("name", ["cifar10-resnet20", "npz-regression"])
def test_resumed_member_equals_uninterrupted_run(name: str, tmp_path: Path, float64_for_resnet: None) -> None:
    # batch-norm running statistics and the regression target scale are buffers: multi-fidelity
    # cuts them per member out of one population and into another
    task = TASKS[name](tmp_path)
    budget = replace(task.budget, batch_size=16, eval_batch_size=256)
    first = train_population(task, MEMBERS, budget=budget, steps=2, horizon=4, keep_checkpoints=True,
                             policy=RejectionPolicy.off())
    resumed = train_population(task, [], budget=budget, steps=4, policy=RejectionPolicy.off(),
                               resume=[c for c in (first.checkpoints[2], first.checkpoints[0]) if c is not None])
    full = train_population(task, [MEMBERS[2]], budget=budget, steps=4, horizon=4, policy=RejectionPolicy.off())
    assert resumed.results[0].metrics == pytest.approx(full.results[0].metrics, rel=1e-4)
