"""The API's documentation pages, Swagger UI at ``/api/v1/docs`` and ReDoc at ``/api/v1/redoc``,
with their scripts and styles served by this process.

FastAPI's own pages load both from a CDN: offline (a laptop on a train, a cluster without
egress) they were blank. The files come from the ``fastapi-offline`` package, which vendors
Swagger UI and ReDoc releases; only its static folder is used, the app stays a plain FastAPI.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

# api.app imports this module, so its API_PREFIX cannot be imported here; they must agree.
API_PREFIX = "/api/v1"
ASSETS = f"{API_PREFIX}/docs/assets"
TITLE = "actsearch API"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
# The files change only when the package does; a day keeps reloads cheap without pinning a
# browser to an old release for long.
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
# Both pages start their UI from an inline script and inject styles; nothing else may come from
# elsewhere: ReDoc's footer would fetch its maker's logo from a CDN (it hides itself when that fails).
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}


def _assets() -> dict[str, Path]:
    """Servable files by name; a fixed table, so no request path ever reaches the file system."""
    folder = Path(str(files("fastapi_offline") / "static"))
    table = {path.name: path for path in folder.iterdir() if path.suffix in MEDIA_TYPES}
    wanted = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}
    if missing := wanted - table.keys():  # a release of the package that moved its files
        raise RuntimeError(f"fastapi-offline lacks {', '.join(sorted(missing))} in {folder}")
    return table


FILES = _assets()

router = APIRouter(prefix=API_PREFIX, include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url=f"{API_PREFIX}/openapi.json", title=TITLE,
                               swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS}/favicon.png")
    page.headers.update(PAGE_HEADERS)
    return page


@router.get("/redoc")
def redoc() -> HTMLResponse:
    page = get_redoc_html(openapi_url=f"{API_PREFIX}/openapi.json", title=TITLE,
                          redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{ASSETS}/favicon.png",
                          with_google_fonts=False)
    page.headers.update(PAGE_HEADERS)
    return page


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise HTTPException(404, f"no documentation asset {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=ASSET_HEADERS)
