"""`genai tool-servers`: the shared tools' MCP servers /mcp re-exposes (its gateway)."""

from __future__ import annotations

import argparse

from app.cli.common import table
from app.services import open_database, server_secret
from app.settings import Settings
from app.storage.sealed import Sealer
from app.storage.tool_servers import ToolServerSpec, ToolServerStore


def _tool_servers(settings: Settings) -> ToolServerStore:
    return ToolServerStore(open_database(settings), Sealer(server_secret(settings)))


def _tool_servers_add(settings: Settings, args: argparse.Namespace) -> int:
    spec = ToolServerSpec(name=args.name, url=args.url, headers=dict(args.header),
                          timeout_seconds=args.timeout)  # fmt: skip
    server = _tool_servers(settings).add(spec)
    print(table([server.model_dump()], TOOL_SERVER_COLUMNS))
    return 0


def _tool_servers_list(settings: Settings, args: argparse.Namespace) -> int:
    servers = [server.shown().model_dump() for server in _tool_servers(settings).registered()]
    print(table(servers, TOOL_SERVER_COLUMNS))
    return 0


def _tool_servers_remove(settings: Settings, args: argparse.Namespace) -> int:
    _tool_servers(settings).remove(args.name)
    print(f"Removed tool server {args.name}.")
    return 0


TOOL_SERVER_COLUMNS = ["name", "url", "header_names", "timeout_seconds", "created_at"]


def _header(value: str) -> tuple[str, str]:
    name, colon, content = value.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError("a header is 'Name: value'")
    return name.strip(), content.strip()


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    servers = commands.add_parser(
        "tool-servers", help="shared tools' MCP servers (/mcp's gateway)"
    ).add_subparsers(dest="action", required=True)
    server_add = servers.add_parser("add", help="register a server; its tools are name.tool")
    server_add.add_argument("name", help="its tools' prefix, e.g. crm")
    server_add.add_argument("url", help="its MCP endpoint (streamable HTTP)")
    server_add.add_argument("--header", action="append", default=[], type=_header,
                            metavar="'NAME: VALUE'",
                            help="sent with each call (its credentials); repeatable")  # fmt: skip
    server_add.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    server_add.set_defaults(run=_tool_servers_add)
    servers.add_parser("list", help="the servers (their headers' names only)").set_defaults(
        run=_tool_servers_list
    )
    server_remove = servers.add_parser("remove", help="unregister a server")
    server_remove.add_argument("name")
    server_remove.set_defaults(run=_tool_servers_remove)
