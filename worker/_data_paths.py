"""Which files a JobSpec may name: task options that are paths must lie under the service's
data directories.

Validating a spec builds its task, and a task opens its data (the ``npz`` file, the CIFAR-10
folder) on the API host. Any path would let every token holder learn whether a file exists
there, and train on — so read back — any array file the service can read. So a path option is
allowed only inside ``$ACTSEARCH_DATA_DIRS`` (``os.pathsep``-separated; default
``$ACTSEARCH_HOME/data``), checked before anything touches the file, both as written (no
``..`` out) and with symbolic links followed (no link out). A refusal says the same whether the
file exists or not. ``actsearch evaluate`` does not come here: it runs as its user, on files
that user can read anyway.

Example:
    >>> import os; os.environ["ACTSEARCH_DATA_DIRS"] = "/srv/data"
    >>> allowed_path("mnist/train.npz")
    '/srv/data/mnist/train.npz'
    >>> allowed_path("/srv/data/../etc/passwd") is None
    True
    >>> del os.environ["ACTSEARCH_DATA_DIRS"]
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIRS_ENV = "ACTSEARCH_DATA_DIRS"
REFUSED = (f"must be a path under the service's data directories (${DATA_DIRS_ENV}); "
           "a relative path is read from the first of them")


def data_dirs() -> tuple[str, ...]:
    """The directories JobSpecs may read, absolute and normalised (not necessarily existing)."""
    text = os.environ.get(DATA_DIRS_ENV, "")
    dirs = [entry for entry in text.split(os.pathsep) if entry.strip()]
    if not dirs:
        import store

        dirs = [str(store.data_dir())]
    return tuple(os.path.normpath(os.path.abspath(os.path.expanduser(entry.strip()))) for entry in dirs)


def is_path_option(name: str) -> bool:
    """Task options that name files or folders: ``path`` (npz, cifar10) and, for plug-in tasks,
    any ``*_path`` or ``*_dir``."""
    return name == "path" or name.endswith(("_path", "_dir"))


def allowed_path(value: object) -> str | None:
    """The real path ``value`` names when it lies under a data directory, else None."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    dirs = data_dirs()
    # As written first, without touching the file system; then with links resolved, so a link
    # inside a data directory cannot point out of it.
    lexical = os.path.normpath(os.path.join(dirs[0], value))  # an absolute value replaces dirs[0]
    if not any(_inside(lexical, d) for d in dirs):
        return None
    real = os.path.realpath(lexical)
    if not any(_inside(real, os.path.realpath(d)) for d in dirs):
        return None
    return real


def _inside(path: str, folder: str) -> bool:
    return Path(path).is_relative_to(folder)
