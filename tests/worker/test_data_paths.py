"""Path options of a JobSpec's task must lie under the data directories (issue 18: validating a
spec opened any npz path on the API host, so a token holder could probe the file system)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.evaluator.test_tasks_vision import write_cifar, write_npz
from worker._data_paths import DATA_DIRS_ENV, REFUSED, allowed_path, data_dirs, is_path_option
from worker.spec import JobSpec, SpecError

SMALL = {"space": {"unary": ["x", "sigmoid"], "binary": ["mul"]}, "budget": {"candidates": 5}}


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """Two data directories (one with a file, one with a link out) and a folder outside both."""
    data, more, outside = tmp_path / "data", tmp_path / "more", tmp_path / "outside"
    for folder in (data, more, outside):
        folder.mkdir()
    write_npz(data / "d.npz")
    write_npz(more / "m.npz")
    write_npz(outside / "secret.npz")
    (data / "link.npz").symlink_to(outside / "secret.npz")
    (data / "linkdir").symlink_to(outside)
    (data / "inner.npz").symlink_to(data / "d.npz")  # a link that stays inside is fine
    monkeypatch.setenv(DATA_DIRS_ENV, f"{data}{os.pathsep}{more}")
    return data, more, outside


def spec(path: Any, task: str = "npz") -> dict[str, Any]:
    return {**SMALL, "task": {"name": task, "options": {"path": path}}}


def test_paths_under_the_data_directories_are_accepted_as_the_file_they_name(dirs: tuple[Path, Path, Path]) -> None:
    data, more, _ = dirs
    for given, real in [("d.npz", data / "d.npz"), (str(data / "d.npz"), data / "d.npz"),
                        (str(more / "m.npz"), more / "m.npz"), ("sub/../d.npz", data / "d.npz"),
                        ("inner.npz", data / "d.npz")]:
        assert JobSpec.from_json(spec(given)).to_json()["task"]["options"]["path"] == str(real), given


@pytest.mark.parametrize("given", [
    "{outside}/secret.npz",       # an existing file outside
    "{outside}/missing.npz",      # a missing one: the same answer
    "/etc/passwd",
    "{data}/../outside/secret.npz",  # .. out of a data directory
    "../outside/secret.npz",      # relative, .. out of the first one
    "link.npz",                   # a link inside that points out
    "linkdir/secret.npz",         # through a linked folder
    "{data}x/d.npz",              # a sibling whose name starts like a data directory
    "", "a\x00b", 5, ["d.npz"],
])
def test_anything_else_is_refused_saying_nothing_about_the_file(dirs: tuple[Path, Path, Path], given: Any) -> None:
    data, _, outside = dirs
    if isinstance(given, str):
        given = given.format(data=data, outside=outside)
    with pytest.raises(SpecError) as error:
        JobSpec.from_json(spec(given))
    assert (error.value.field, error.value.reason) == ("task.options.path", REFUSED)
    assert "exist" not in str(error.value) and str(outside) not in str(error.value)


def test_the_cifar10_folder_option_is_checked_too(dirs: tuple[Path, Path, Path]) -> None:
    data, _, outside = dirs
    write_cifar(data / "cifar")
    write_cifar(outside / "cifar")
    assert JobSpec.from_json(spec("cifar", "cifar10-resnet20")).task.options["path"] == str(data / "cifar")
    with pytest.raises(SpecError, match="data directories"):
        JobSpec.from_json(spec(str(outside / "cifar"), "cifar10-resnet20"))


def test_the_default_is_the_services_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATA_DIRS_ENV, raising=False)
    monkeypatch.setenv("ACTSEARCH_HOME", str(tmp_path))
    assert data_dirs() == (str(tmp_path / "data"),)
    assert allowed_path("x.npz") == str(tmp_path / "data" / "x.npz")
    monkeypatch.setenv(DATA_DIRS_ENV, os.pathsep)  # empty entries are no directory
    assert data_dirs() == (str(tmp_path / "data"),)


def test_which_options_are_paths() -> None:
    assert [name for name in ("path", "model", "train_path", "cache_dir", "paths") if is_path_option(name)] == [
        "path", "train_path", "cache_dir"]
