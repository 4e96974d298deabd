"""The API docs (/docs Swagger UI, /redoc ReDoc) served offline, and the site's favicon.

FastAPI's own pages load Swagger UI and ReDoc from public CDNs, which leaves a blank page on
a machine without internet. The assets come from the `fastapi-offline` package instead, and
the pages are our own (no inline script, so a strict Content-Security-Policy holds).
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["add_docs_routes"]

ASSETS = "/static/docs-assets"
"""Where the Swagger UI and ReDoc bundles are served."""

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="/favicon.png" type="image/png">
  {head}
</head>
<body>
  {body}
</body>
</html>
"""


def add_docs_routes(app: FastAPI) -> None:
    """/docs, /redoc, /favicon.png and /favicon.ico, all from files installed with localpose."""
    assets = resources.files("fastapi_offline") / "static"
    static = resources.files("localpose.server") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    swagger = _PAGE.format(
        title=f"{app.title} API - Swagger UI",
        head=f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">',
        body=(
            '<div id="swagger-ui"></div>\n'
            f'  <script src="{ASSETS}/swagger-ui-bundle.js"></script>\n'
            '  <script src="/static/docs/swagger-init.js"></script>'
        ),
    )
    redoc = _PAGE.format(
        title=f"{app.title} API - ReDoc",
        head="",
        body=(
            f'<redoc spec-url="{app.openapi_url}"></redoc>\n'
            f'  <script src="{ASSETS}/redoc.standalone.js"></script>'
        ),
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    @app.get("/favicon.png", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)  # browsers ask for it; a PNG is accepted there
    async def favicon() -> FileResponse:
        return FileResponse(str(static / "favicon.png"), media_type="image/png")
