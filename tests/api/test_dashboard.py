"""The dashboard's static files: served without a token, complete, and nothing from elsewhere."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.routes.dashboard import CSP, FILES, STATIC

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:from|import)\s*["'](\.{1,2}/[^"']+)["']""")
# XML namespace names: identifiers, never fetched
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1998/Math/MathML")


def test_index_needs_no_token_and_forbids_other_origins(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP and "default-src 'self'" in CSP
    assert response.headers["referrer-policy"] == "no-referrer"  # the ?token= URL must not leak
    assert '<script type="module" src="/static/js/main.js">' in response.text
    assert 'href="/static/app.css"' in response.text


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_static_file_is_served_with_its_type(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
    assert response.headers["content-type"].startswith(kind[Path(name).suffix])
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_module_import_resolves_to_a_served_file() -> None:
    # There is no build step: a typo in an import path would only show as a blank page.
    imports = 0
    for name, path in FILES.items():
        if path.suffix != ".js":
            continue
        for target in IMPORT.findall(path.read_text()):
            resolved = (path.parent / target).resolve().relative_to(STATIC).as_posix()
            assert resolved in FILES, f"{name} imports {target}, which is not served"
            imports += 1
    assert imports > 20
    html = (STATIC / "index.html").read_text()
    for reference in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert reference in FILES


def test_nothing_is_loaded_from_another_origin() -> None:
    for name, path in FILES.items():
        text = path.read_text()
        for namespace in NAMESPACES:
            text = text.replace(namespace, "")
        assert not re.search(r"https?://|//cdn|@import", text), f"{name} refers to another origin"


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/js", "/static/nope.js",
                                  "/static/js/../../routes/dashboard.py", "/static/"])
def test_only_listed_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_package_data_ships_every_file() -> None:
    # An installed wheel holds only what [tool.setuptools.package-data] names.
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    shipped = {path for pattern in patterns for path in (ROOT / "api").glob(pattern)}
    assert set(FILES.values()) <= shipped


def test_dashboard_pages_are_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/" not in paths and not any(path.startswith("/static") for path in paths)
