"""The OpenAPI schema and Swagger UI, behind the same keys as everything else."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.api.deps import current_principal

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_principal)])


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="genai-platform")
