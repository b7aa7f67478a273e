"""Which database ``serve``, ``worker`` and ``token`` open without ``--db``: one file in the
service's folder, whatever the current directory (issue 18: ``token`` run elsewhere created an
empty ``actsearch.db`` there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import store
from cli._db_option import database_url, shown

ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACTSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ACTSEARCH_DB", raising=False)
    return tmp_path / "home"


def test_the_default_is_the_services_folder_whatever_the_directory(home: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url(None) == store.default_url() == f"sqlite:///{home / 'actsearch.db'}"
    monkeypatch.setenv("ACTSEARCH_DB", "postgresql://u:secret@db/actsearch")
    assert database_url(None) == "postgresql://u:secret@db/actsearch"
    assert shown(database_url(None)) == "postgresql://u:***@db/actsearch"
    assert database_url("runs/my.db") == f"sqlite:///{tmp_path / 'runs' / 'my.db'}"  # absolute, once
    assert database_url("sqlite:///my.db") == f"sqlite:///{tmp_path / 'my.db'}"
    assert database_url(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"


def test_without_xdg_or_home_variables_it_is_under_the_users_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTSEARCH_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert store.home() == Path.home() / ".local" / "share" / "actsearch"
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert store.default_url() == "sqlite:////srv/data/actsearch/actsearch.db"


def test_token_commands_in_any_directory_share_one_store_and_leave_the_directory_alone(
        home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ACTSEARCH_HOME": str(home)}
    env.pop("ACTSEARCH_DB", None)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    created = subprocess.run([ACTSEARCH, "token", "create", "--name", "x", "--json"], cwd=first, env=env,
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    listed = subprocess.run([ACTSEARCH, "token", "list", "--json"], cwd=second, env=env, capture_output=True,
                            text=True, timeout=120)
    assert [t["name"] for t in json.loads(listed.stdout)["data"]] == ["x"]
    assert os.listdir(first) == [] and os.listdir(second) == []
    assert (home / "actsearch.db").is_file()  # the folder is made on first use
