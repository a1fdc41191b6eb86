"""The MCP server: the SDK's low-level `Server`, its handlers reading who calls from the HTTP
request that carried each message (the endpoint authenticated it) and handing the work to the
tools and resources."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from langchain_core.callbacks import BaseCallbackHandler
from mcp import types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import AnyUrl
from starlette.requests import Request

from app import __version__
from app.api.mcp.progress import ProgressNotifications
from app.api.mcp.resources import TenantResources
from app.api.mcp.shared_tools import SharedToolCalls, is_shared
from app.api.mcp.tools import UseCaseTools
from app.services import Services
from app.tenants.models import Principal

if TYPE_CHECKING:
    from app.api.use_cases.mounting import UseCaseMounting

INSTRUCTIONS = (
    "The organisation's generative-AI use cases, as tools: each call is metered and limited "
    "like the use case's HTTP route, under the key this session was opened with."
)


class Caller(AuthenticatedUser):
    """The principal an HTTP request to /mcp was authenticated as, in its ASGI scope's `user`.
    The SDK binds a session to the key that opened it (its `client_id`, the key's id)."""

    def __init__(self, principal: Principal) -> None:
        key_id = principal.key.id
        super().__init__(AccessToken(token=key_id, client_id=key_id, scopes=[]))
        self.principal = principal


def build_server(
    tools: UseCaseTools, shared: SharedToolCalls, resources: TenantResources
) -> Server[Any, Request]:
    server: Server[Any, Request] = Server("genai-platform", __version__, INSTRUCTIONS)

    def carried_by() -> tuple[Request, Principal]:
        request = server.request_context.request
        assert request is not None  # streamable HTTP hands each message its HTTP request
        return request, request.scope["user"].principal

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        principal = carried_by()[1]
        return [*tools.listed(principal), *await shared.listed(principal)]

    async def call_tool(message: types.CallToolRequest) -> types.ServerResult:
        """Registered as the SDK's handler itself: its decorator's would look each tool up
        in a listing first (asking every tool server again for a tool it has not listed) to
        validate the arguments, which the use case (or the tool's own server) validates."""
        request, principal = carried_by()
        name, arguments = message.params.name, message.params.arguments or {}
        if is_shared(name):
            return types.ServerResult(await shared.call(request, principal, name, arguments))
        answer = await tools.call(request, principal, name, arguments, progress())
        return types.ServerResult(answer)

    server.request_handlers[types.CallToolRequest] = call_tool

    def progress() -> list[BaseCallbackHandler]:
        context = server.request_context
        token = context.meta.progressToken if context.meta else None
        if token is None:
            return []
        return [ProgressNotifications(context.session, token, context.request_id)]

    @server.list_resources()
    async def list_resources() -> list[types.Resource]:
        return await resources.listed(carried_by()[1])

    @server.list_resource_templates()
    async def list_resource_templates() -> list[types.ResourceTemplate]:
        return resources.templates()

    @server.read_resource()
    async def read_resource(uri: AnyUrl) -> list[ReadResourceContents]:
        return await resources.read(carried_by()[1], str(uri))

    return server


class _SessionEndNoise(logging.Filter):
    """Drops the SDK's report of a session that ended with its server stream open (a client's
    DELETE, an idle timeout): it logs the stream's reader closed under its writer as an error
    with a traceback, on every such ending. Any other failure of that stream is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        ended = record.exc_info is not None and isinstance(
            record.exc_info[1], anyio.ClosedResourceError
        )
        return not (ended and record.getMessage() == "Error in standalone SSE writer")


SESSION_END_NOISE = _SessionEndNoise()


def session_manager(services: Services, mounting: UseCaseMounting) -> StreamableHTTPSessionManager:
    """The SDK's streamable HTTP sessions over the server of the platform's tools."""
    logging.getLogger("mcp.server.streamable_http").addFilter(SESSION_END_NOISE)  # once
    tools = UseCaseTools(mounting, services.metering)
    shared = SharedToolCalls(services.shared_tools, services.metering)
    resources = TenantResources(services.history, mounting)
    return StreamableHTTPSessionManager(
        build_server(tools, shared, resources),
        max_request_body_size=services.settings.max_body_bytes,
    )
