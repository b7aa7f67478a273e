"""The service's own folder, where the default database and data sets live.

One place per user, whatever the current directory: ``actsearch serve``, ``worker`` and
``token`` started from different directories must open the same SQLite file (a default of
``sqlite:///actsearch.db`` made each directory its own empty store). ``$ACTSEARCH_HOME`` moves
it; otherwise it follows the XDG base directory convention, as ``~/.cache/actsearch`` does for
generated data (evaluator.cache_dir).

Example:
    >>> import os; os.environ["ACTSEARCH_HOME"] = "/srv/actsearch"
    >>> default_url()
    'sqlite:////srv/actsearch/actsearch.db'
    >>> del os.environ["ACTSEARCH_HOME"]
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "ACTSEARCH_HOME"
DB_FILE = "actsearch.db"


def home() -> Path:
    """``$ACTSEARCH_HOME``, else ``$XDG_DATA_HOME/actsearch``, else ``~/.local/share/actsearch``
    (absolute; not created here)."""
    if explicit := os.environ.get(HOME_ENV):
        return Path(explicit).expanduser().absolute()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return (Path(data) / "actsearch").absolute()


def default_url() -> str:
    """The SQLite file in :func:`home`: the database when neither ``--db`` nor ``$ACTSEARCH_DB``
    names one."""
    return f"sqlite:///{home() / DB_FILE}"


def data_dir() -> Path:
    """Where data sets go by default: the one folder JobSpecs may read when
    ``$ACTSEARCH_DATA_DIRS`` is not set (worker/_data_paths.py)."""
    return home() / "data"
