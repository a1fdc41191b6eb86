"""What of its own a tenant may read over MCP: its kept chat sessions and the versions of its
use cases' prompts, as JSON resources. Read-only; another tenant's are not found.

    genai://chat/sessions/{session_id}   a session's messages (if the tenant may use /chat)
    genai://prompts/{use_case}           every version of a use case's prompt, newest named
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from mcp import types
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.shared.exceptions import McpError

from app.storage.chat_history import ChatHistoryStore
from app.tenants.models import Principal

if TYPE_CHECKING:  # LangServe, imported with the use cases
    from app.api.use_cases.mounting import UseCaseMounting

SESSIONS = "genai://chat/sessions/"
PROMPTS = "genai://prompts/"
JSON = "application/json"
#: JSON-RPC's error code for a resource that does not exist (MCP's convention).
RESOURCE_NOT_FOUND = -32002


class TenantResources:
    def __init__(self, history: ChatHistoryStore, mounting: UseCaseMounting) -> None:
        self._history = history
        self._mounting = mounting

    async def listed(self, principal: Principal) -> list[types.Resource]:
        resources = [
            types.Resource(uri=f"{PROMPTS}{name}", name=f"{name} prompt versions", mimeType=JSON)
            for name in self._prompted(principal)
        ]
        if principal.may_use_route("chat"):
            sessions = await self._history.asessions(principal.tenant.id)
            resources += [
                types.Resource(uri=f"{SESSIONS}{one}", name=f"chat session {one}", mimeType=JSON)
                for one in sessions
            ]
        return resources

    @staticmethod
    def templates() -> list[types.ResourceTemplate]:
        return [
            types.ResourceTemplate(
                uriTemplate=f"{SESSIONS}{{session_id}}", name="chat session", mimeType=JSON,
                description="A chat session kept by the server: its messages, oldest first.",
            )
        ]  # fmt: skip

    async def read(self, principal: Principal, uri: str) -> list[ReadResourceContents]:
        if uri.startswith(SESSIONS) and principal.may_use_route("chat"):
            content = await self._session(principal, uri.removeprefix(SESSIONS))
        elif uri.startswith(PROMPTS) and uri.removeprefix(PROMPTS) in self._prompted(principal):
            content = self._prompt_versions(uri.removeprefix(PROMPTS))
        else:
            content = None
        if content is None:
            raise McpError(
                types.ErrorData(
                    code=RESOURCE_NOT_FOUND,
                    message=f"No resource '{uri}': resources/list names those this key may read.",
                )
            )
        return [ReadResourceContents(orjson.dumps(content).decode(), JSON)]

    def _prompted(self, principal: Principal) -> list[str]:
        """The use cases with a prompt of their own that `principal` may use."""
        return [
            name
            for name, runs in self._mounting.runs.items()
            if runs.admission.prompts is not None and principal.may_use_route(name)
        ]

    async def _session(self, principal: Principal, session_id: str) -> dict[str, Any] | None:
        messages = await self._history.aload(principal.tenant.id, session_id)
        if not messages:
            return None
        from langchain_core.messages import message_to_dict  # loaded with the use cases

        return {"session_id": session_id, "messages": [message_to_dict(m) for m in messages]}

    def _prompt_versions(self, name: str) -> dict[str, Any]:
        prompts = self._mounting.runs[name].admission.prompts
        assert prompts is not None
        return {
            "name": name,
            "newest": prompts.newest,
            "versions": [spec.model_dump(mode="json") for _, spec in sorted(prompts.specs.items())],
        }
