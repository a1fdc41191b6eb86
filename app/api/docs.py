"""The OpenAPI schema and Swagger UI, behind the same keys as everything else.

Swagger UI's files come from the `swagger-ui-bundle` package, not a CDN: the docs work
offline.
"""

from typing import Any

from fastapi import Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from app.api.deps import current_principal
from app.errors import NotFound
from app.http.json_body import api_router

router = api_router(include_in_schema=False, dependencies=[Depends(current_principal)])

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="genai-platform",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
    )


@router.get("/docs/assets/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"No docs asset '{name}'.")
    return FileResponse(swagger_ui_path / name)
