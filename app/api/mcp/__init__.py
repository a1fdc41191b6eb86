"""/mcp: the use cases as the tools of an MCP server (streamable HTTP), for agents.

McpEndpoint(services, mounting)   the ASGI app at /mcp; `run()` in the app's lifespan
"""

from app.api.mcp.endpoint import METHODS, McpEndpoint

__all__ = ["METHODS", "McpEndpoint"]
