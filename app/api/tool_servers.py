"""/admin/tool-servers: the upstream MCP servers whose tools /mcp re-exposes (admin keys).

A server's headers (its credentials) are sealed when stored and never shown again: a listing
names them only. Which tenants may call its tools is each tenant's `allowed_tools`.
"""

from typing import Any

import anyio
from fastapi import Depends, Response

from app.api.deps import ServicesDep, admin_principal
from app.http.json_body import api_router
from app.storage.tool_servers import ToolServer, ToolServerSpec

router = api_router(
    prefix="/admin/tool-servers", tags=["admin"], dependencies=[Depends(admin_principal)]
)


@router.post("", status_code=201)
async def add_tool_server(spec: ToolServerSpec, services: ServicesDep) -> ToolServer:
    return await anyio.to_thread.run_sync(services.tool_servers.add, spec)


@router.get("")
async def list_tool_servers(services: ServicesDep) -> dict[str, Any]:
    registered = await services.tool_servers.aregistered()
    return {"tool_servers": [server.shown() for server in registered]}


@router.delete("/{name}", status_code=204)
async def remove_tool_server(name: str, services: ServicesDep) -> Response:
    await anyio.to_thread.run_sync(services.tool_servers.remove, name)
    return Response(status_code=204)
