"""Swagger UI and ReDoc: both pages load their scripts and styles from this server, not a CDN.
(tests/browser/test_api_docs_browser.py opens them in Chromium with the network blocked.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.routes.docs import FILES

SOURCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_each_docs_page_names_only_files_of_this_server(client: TestClient, page: str) -> None:
    response = client.get(page)  # no token: the documentation is public, as the schema is
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = [a or b for a, b in SOURCES.findall(response.text)]
    assert urls and all(url.startswith("/api/v1/") for url in urls), urls
    assert "cdn" not in response.text.lower() and "fonts.googleapis" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]  # nor from the scripts
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_asset_is_served_with_its_type(client: TestClient, name: str) -> None:
    response = client.get(f"/api/v1/docs/assets/{name}")
    assert response.status_code == 200 and len(response.content) > 1000
    kind = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[name.rsplit(".", 1)[1]]
    assert response.headers["content-type"].startswith(kind)


@pytest.mark.parametrize("name", ["nope.js", "..%2Fcore.py", "%2E%2E%2F__init__.py"])
def test_nothing_else_is_served_from_the_assets_folder(client: TestClient, name: str) -> None:
    assert client.get(f"/api/v1/docs/assets/{name}").status_code == 404
