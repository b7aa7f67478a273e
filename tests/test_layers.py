"""DESIGN.md's layer rules as tests: which package may import which, and no import circles.

The imports are read from the source with ``ast``, so a test names the file and line that
breaks a rule. "At import time" means a statement that runs when the module is imported: not
inside a function, and not under ``if TYPE_CHECKING:``. ``from pkg import name`` is an import
of the submodule ``pkg.name`` when there is one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("space", "search", "evaluator", "worker", "store", "api", "cli")

# DESIGN.md: "space <- search; space <- evaluator; space, search, evaluator, store <- worker;
# space, store, the JobSpec model <- api; all of the above <- cli". A name is a package or one
# module (worker.spec, the JobSpec model).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "space": frozenset(),
    "store": frozenset(),
    "search": frozenset({"space"}),
    "evaluator": frozenset({"space"}),
    "worker": frozenset({"space", "search", "evaluator", "store"}),
    "api": frozenset({"space", "store", "worker.spec"}),
    "cli": frozenset(PACKAGES) - {"cli"},
}

# What the API process must not load at import time ("api never imports torch or ray at import
# time"; the runner's machinery and the CLI are other processes' business).
API_MUST_NOT_LOAD = ("torch", "ray", "evaluator", "search", "worker", "cli")
API_MAY_LOAD = ("worker", "worker.spec")  # the JobSpec model; worker/__init__ imports lazily

# Imports against MAY_IMPORT inside functions, which the API needs at request time: the
# catalogue routes list the evaluator's tasks and the controllers (GET /tasks, /controllers).
LAZY_ARROWS = {
    ("api.routes.catalogue", "evaluator"),
    ("api.routes.catalogue", "search"),
    ("api.routes.catalogue", "search.controllers"),
}

# Known offenders (modules): none left since issue 19 point 3 moved the SQL into store/. A new
# offender fails the test.
SQLALCHEMY_OUTSIDE_STORE: set[str] = set()

# Known circles (each a frozenset of the modules in it): none left since issue 19 point 4 gave
# evaluator's _train and _parallel a module of their own types. A new circle fails the test.
KNOWN_CIRCLES: set[frozenset[str]] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported
    line: int
    at_import: bool  # runs when ``module`` is imported

    @property
    def where(self) -> str:
        return f"{modules()[self.module].relative_to(ROOT)}:{self.line}"


@cache
def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports() -> tuple[Import, ...]:
    return tuple(found for module, path in modules().items() for found in _imports_of(module, path))


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, at_import in _statements(ast.parse(path.read_text(encoding="utf-8")), at_import=True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, at_import)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(module, sub if sub in modules() else base, node.lineno, at_import)


def _statements(node: ast.AST, *, at_import: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other, at_import
                yield from _statements(other, at_import=at_import)
            continue
        yield child, at_import
        inside_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _statements(child, at_import=at_import and not inside_function)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _package(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, allowed: Iterable[str]) -> bool:
    return any(name == a or name.startswith(a + ".") for a in allowed)


def _loaded_at_import(module: str) -> dict[str, Import]:
    """Every module that importing ``module`` loads, ours followed through their own
    import-time imports (with their parent packages, which Python runs first), each with the
    import that first reached it."""
    reached: dict[str, Import] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        for found in imports():
            if found.module != current or not found.at_import:
                continue
            parts = found.target.split(".")
            for depth in range(1, len(parts) + 1):
                target = ".".join(parts[:depth])
                if target not in reached:
                    reached[target] = found
                    if target in modules():
                        todo.append(target)
    return reached


def test_the_api_loads_no_torch_ray_runner_or_cli_at_import() -> None:
    broken = sorted(
        f"{module} loads {target} ({found.where})"
        for module in modules() if _package(module) == "api"
        for target, found in _loaded_at_import(module).items()
        if _within(target, API_MUST_NOT_LOAD) and target not in API_MAY_LOAD
        and not _within(target, ("worker.spec",)))
    assert not broken, "\n".join(broken)


def test_the_api_app_imports_without_torch_ray_runner_or_cli() -> None:
    # the same rule at run time, where third-party imports count too
    code = ("import sys, api.app; print(sorted({m if m.startswith('worker.') else m.split('.')[0] "
            f"for m in sys.modules if m.split('.')[0] in {API_MUST_NOT_LOAD!r} and m not in {API_MAY_LOAD!r} "
            "and not m.startswith('worker.spec')}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    assert done.stdout.strip() == "[]", f"api.app loads {done.stdout.strip()}"


def test_packages_import_only_down_the_layers() -> None:
    broken = sorted(
        f"{found.module} imports {found.target} ({found.where})"
        for found in imports()
        if _package(found.target) in PACKAGES and _package(found.target) != _package(found.module)
        and not _within(found.target, MAY_IMPORT[_package(found.module)])
        and not (not found.at_import and (found.module, found.target) in LAZY_ARROWS))
    assert not broken, "\n".join(broken)


def test_only_the_store_imports_sqlalchemy() -> None:
    new = sorted(f"{found.module} imports {found.target} ({found.where})" for found in imports()
                 if _package(found.target) == "sqlalchemy" and _package(found.module) != "store"
                 and found.module not in SQLALCHEMY_OUTSIDE_STORE)
    assert not new, "\n".join(new)


def circles() -> set[frozenset[str]]:
    """The modules of one package that import each other at import time, each group once
    (strongly connected components of the import graph, Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {module: set() for module in modules()}
    for found in imports():
        if found.at_import and found.target in modules() and found.target != found.module \
                and _package(found.target) == _package(found.module):
            graph[found.module].add(found.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found_circles: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found_circles.add(frozenset(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found_circles


def test_no_modules_of_a_package_import_each_other_in_a_circle() -> None:
    found = circles()
    new = sorted(" <-> ".join(sorted(group)) for group in found - KNOWN_CIRCLES)
    assert not new, "import circles:\n" + "\n".join(new)
