"""The `genai` command line: serve, and manage tenants, keys, usage and batches in the
database, and the answer cache the replicas share."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.api.openai.batch_results import CANCELLED
from app.api.openai.batches import batch_object
from app.errors import NotFound, PlatformError
from app.observability.logs import logging_config, skip_unused_record_fields
from app.server.graceful import GracefulServer
from app.server.transport import uvicorn_config
from app.services import open_database, server_secret
from app.settings import (
    CONFIG_FILE_VARIABLE,
    InvalidSettings,
    Settings,
    is_loopback,
    load_settings,
)
from app.storage.batches import BatchStore
from app.storage.group_commit import GroupCommit
from app.storage.sealed import Sealer
from app.storage.tables import BatchRow
from app.storage.tool_servers import ToolServerSpec, ToolServerStore
from app.tenants.keys import KeyHasher
from app.tenants.models import KeyCreate, TenantChanges, TenantCreate
from app.tenants.service import TenantService
from app.usage.ledger import UsageFilter, UsageLedger


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(config)
    skip_unused_record_fields()
    from app.main import create_app

    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"genai-platform serving on {base}", flush=True)
    admin_key = app.state.services.local_admin_key
    if settings.auth_enabled and admin_key:
        where = settings.data_dir / "admin-key"
        print(f"Open {base}/ and sign in with the local admin key, kept in {where}", flush=True)
        if is_loopback(settings.host) and sys.stdout.isatty():
            # To the developer's terminal only: output that is captured is a log, and no log
            # line ever holds a key.
            print(f"  the local admin key: {admin_key}", flush=True)
    server_config = uvicorn_config(
        app, settings, log_config=config,
        timeout_graceful_shutdown=5,  # after the drain (GracefulServer), for what is left
    )  # fmt: skip
    GracefulServer(server_config, app.state.services.drain, settings.shutdown_grace_seconds).run()
    return 0


def _tenants(settings: Settings, *, reading: bool = False) -> TenantService:
    engine = _existing_database(settings) if reading else open_database(settings)
    return TenantService(engine, KeyHasher(server_secret(settings)))


def _existing_database(settings: Settings) -> Engine:
    """The database a listing reads, named on stderr: a listing of a database that is not
    there (run in a folder without var/) is an error, not an empty table."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise NotFound(
            f"No database at {url.database}: run this where the server keeps its var/ folder, "
            "or set GENAI_DATA_DIR or GENAI_DATABASE_URL to the server's."
        )
    print(f"database: {url.render_as_string(hide_password=True)}", file=sys.stderr)
    return open_database(settings)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], header: bool = True) -> str:
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [columns, *cells] if header else cells
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )


def _spec(args: argparse.Namespace, fields: Sequence[str]) -> dict[str, Any]:
    values = {field: getattr(args, field, None) for field in fields}
    return {field: value for field, value in values.items() if value is not None}


KEY_LIMITS = ("rpm", "tpm", "max_concurrent", "ipm")
TENANT_FIELDS = ("name", *KEY_LIMITS, "budget_usd", "budget_period", "allowed_routes",
                 "allowed_models", "cache", "guardrails", "allowed_tools", "tool_rpm")  # fmt: skip


def _tenants_create(settings: Settings, args: argparse.Namespace) -> int:
    tenant = _tenants(settings).create_tenant(
        TenantCreate(id=args.id, **_spec(args, TENANT_FIELDS))
    )
    print(_table([tenant.model_dump()], ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _tenants_list(settings: Settings, args: argparse.Namespace) -> int:
    tenants = [tenant.model_dump() for tenant in _tenants(settings, reading=True).list_tenants()]
    print(_table(tenants, ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _tenants_update(settings: Settings, args: argparse.Namespace) -> int:
    changes = TenantChanges(**_spec(args, TENANT_FIELDS))
    tenant = _tenants(settings).update_tenant(args.id, changes)
    print(_table([tenant.model_dump()], ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _keys_create(settings: Settings, args: argparse.Namespace) -> int:
    expires_at = (
        datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    )
    spec = KeyCreate(
        name=args.name, admin=args.admin, expires_at=expires_at,
        **_spec(args, (*KEY_LIMITS, "guardrails")),
    )  # fmt: skip
    created = _tenants(settings).create_key(args.tenant, spec)
    print(f"Created key {created.id} for tenant {created.tenant_id}; it is shown only once:")
    print(created.key)
    return 0


def _keys_list(settings: Settings, args: argparse.Namespace) -> int:
    keys = [key.model_dump() for key in _tenants(settings, reading=True).list_keys(args.tenant)]
    print(_table(keys, ["id", "tenant_id", "name", "admin", *KEY_LIMITS, "expires_at",
                        "revoked_at"]))  # fmt: skip
    return 0


def _keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    key = _tenants(settings).revoke_key(args.key_id)
    print(f"Revoked key {key.id} of tenant {key.tenant_id}.")
    return 0


def _tool_servers(settings: Settings) -> ToolServerStore:
    return ToolServerStore(open_database(settings), Sealer(server_secret(settings)))


def _tool_servers_add(settings: Settings, args: argparse.Namespace) -> int:
    spec = ToolServerSpec(name=args.name, url=args.url, headers=dict(args.header),
                          timeout_seconds=args.timeout)  # fmt: skip
    server = _tool_servers(settings).add(spec)
    print(_table([server.model_dump()], TOOL_SERVER_COLUMNS))
    return 0


def _tool_servers_list(settings: Settings, args: argparse.Namespace) -> int:
    servers = [server.shown().model_dump() for server in _tool_servers(settings).registered()]
    print(_table(servers, TOOL_SERVER_COLUMNS))
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


def _usage(settings: Settings, args: argparse.Namespace) -> int:
    engine = _existing_database(settings)
    where = UsageFilter(
        tenant_id=args.tenant, since=args.since, until=args.until, route=args.route,
        model=args.model, batch_id=args.batch_id,
    )  # fmt: skip
    ledger = UsageLedger(engine, GroupCommit(engine))  # it only reads
    columns = ["created_at", "tenant_id", "route", "model", "status", "input_tokens",
               "output_tokens", "token_source", "cost_usd", "cache", "latency_ms"]  # fmt: skip
    for number, page in enumerate(ledger.pages(where)):  # every row, a page at a time
        print(_table(page, columns, header=number == 0))
    totals = ledger.totals(where)
    cache = totals["cache"]
    print(
        f"{totals['requests']} requests, {totals['input_tokens']} input tokens, "
        f"{totals['output_tokens']} output tokens, ${totals['cost_usd']:.6f}; "
        f"{cache['hits'] + cache['coalesced']} answered by the cache, "
        f"${cache['saved_usd']:.6f} saved"
    )
    return 0


def _cache_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Drop a tenant's cached answers from the cache the replicas share (Redis's); an
    in-process cache is the server's own, reached through its admin API."""
    if not settings.redis_url:
        print(
            "The answer cache is kept in the server's process (no redis_url): purge it with "
            f"DELETE /admin/tenants/{args.tenant}/cache on the server.",
            file=sys.stderr,
        )
        return 1
    _tenants(settings, reading=True).get_tenant(args.tenant)  # "No tenant" if none
    if args.model is not None and args.model not in settings.models:
        raise NotFound(f"No model alias '{args.model}'.", param="model")
    purged = asyncio.run(_purged(settings, args.tenant, args.model))
    print(f"Purged {purged} cached answers of tenant {args.tenant}.")
    return 0


async def _purged(settings: Settings, tenant_id: str, alias: str | None) -> int:
    from app.cache.redis_store import RedisCacheStore
    from app.services import open_redis

    redis = open_redis(settings)
    assert redis is not None
    try:
        return await RedisCacheStore(redis, settings.redis_prefix).purge(tenant_id, alias)
    finally:
        await redis.aclose()


def _batches(settings: Settings) -> BatchStore:
    return BatchStore(_existing_database(settings))


def _batches_list(settings: Settings, args: argparse.Namespace) -> int:
    rows = asyncio.run(_batches(settings).page(args.tenant, args.limit, None))
    shown = [{"id": row.id, "tenant_id": row.tenant_id, "endpoint": row.endpoint,
              "status": row.status, "total": row.total, "completed": row.completed,
              "failed": row.failed,
              "created_at": datetime.fromtimestamp(row.created_at, UTC).isoformat()}
             for row in rows]  # fmt: skip
    print(_table(shown, ["id", "tenant_id", "endpoint", "status", "total", "completed",
                         "failed", "created_at"]))  # fmt: skip
    return 0


def _batch(store: BatchStore, batch_id: str) -> BatchRow:
    row = asyncio.run(store.get(None, batch_id))
    if row is None:
        raise NotFound(f"No batch '{batch_id}'; `genai batches list` lists them.")
    return row


def _batches_show(settings: Settings, args: argparse.Namespace) -> int:
    row = _batch(_batches(settings), args.batch_id)
    print(json.dumps({"tenant_id": row.tenant_id, **batch_object(row)}, indent=2))
    return 0


def _batches_cancel(settings: Settings, args: argparse.Namespace) -> int:
    store = _batches(settings)
    row = _batch(store, args.batch_id)
    if row.status == "in_progress":
        row = asyncio.run(store.cancel(None, row.id, time.time(), CANCELLED)) or row
    print(f"Batch {row.id} of tenant {row.tenant_id} is {row.status}.")
    return 0 if row.status in ("cancelling", "cancelled") else 1


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _policy(value: str) -> dict[str, Any]:
    """A guardrail policy written inline (JSON or YAML), or `@file` holding one."""
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    policy = yaml.safe_load(text)
    if not isinstance(policy, dict):
        raise argparse.ArgumentTypeError("a policy is a mapping, e.g. '{request: {email: mask}}'")
    return policy


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    parser.add_argument("--max-concurrent", type=int, help="requests at once")
    parser.add_argument("--ipm", type=int, help="images per minute")
    parser.add_argument("--guardrails", type=_policy, metavar="POLICY",
                        help="its guardrail policy, as JSON or YAML or @file, e.g. "
                        "'{request: {email: mask, secret: block}}'; '{}': none")  # fmt: skip


def _add_tenant_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    _add_limits(parser)
    parser.add_argument("--budget-usd", type=float, help="budget per period, in USD")
    parser.add_argument("--budget-period", choices=["day", "month"])
    parser.add_argument("--allowed-routes", type=_csv, help="comma-separated; default: all")
    parser.add_argument("--allowed-models", type=_csv, help="comma-separated; default: all")
    parser.add_argument("--cache", choices=["exact", "semantic", "off"],
                        help="its own answer cache mode; default: its aliases'")  # fmt: skip
    parser.add_argument("--allowed-tools", type=_csv,
                        help="shared tools it may call on /mcp: server.tool or server.*, "
                        "comma-separated; default: none")  # fmt: skip
    parser.add_argument("--tool-rpm", type=int, help="shared tool calls per minute")


Command = Callable[[Settings, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai", description="genai-platform")
    parser.add_argument("--config", type=Path, help=f"YAML settings file ({CONFIG_FILE_VARIABLE})")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to listen on (GENAI_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (GENAI_PORT)")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    tenants = commands.add_parser("tenants", help="client apps").add_subparsers(
        dest="action", required=True
    )
    create = tenants.add_parser("create", help="add a tenant")
    create.add_argument("id", help="lowercase slug, e.g. partner-a")
    _add_tenant_fields(create)
    create.set_defaults(run=_tenants_create)
    tenants.add_parser("list", help="list tenants").set_defaults(run=_tenants_list)
    update = tenants.add_parser("update", help="change a tenant")
    update.add_argument("id")
    _add_tenant_fields(update)
    update.set_defaults(run=_tenants_update)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    key_create = keys.add_parser("create", help="add a key (printed once, as the last line)")
    key_create.add_argument("--tenant", required=True)
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--admin", action="store_true", help="may use /admin")
    key_create.add_argument("--expires-in-days", type=float)
    _add_limits(key_create)
    key_create.set_defaults(run=_keys_create)
    key_list = keys.add_parser("list", help="list keys (never their secrets)")
    key_list.add_argument("--tenant")
    key_list.set_defaults(run=_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_keys_revoke)

    usage = commands.add_parser("usage", help="print the usage ledger")
    usage.add_argument("--tenant")
    usage.add_argument("--route")
    usage.add_argument("--model")
    usage.add_argument("--batch-id", help="the lines of one batch")
    usage.add_argument("--since", type=datetime.fromisoformat, help="ISO time")
    usage.add_argument("--until", type=datetime.fromisoformat, help="ISO time")
    usage.set_defaults(run=_usage)

    batches = commands.add_parser("batches", help="batch jobs (/v1/batches)").add_subparsers(
        dest="action", required=True
    )
    batch_list = batches.add_parser("list", help="list batches, newest first")
    batch_list.add_argument("--tenant")
    batch_list.add_argument("--limit", type=int, default=100)
    batch_list.set_defaults(run=_batches_list)
    show = batches.add_parser("show", help="a batch's state, counts and files")
    show.add_argument("batch_id")
    show.set_defaults(run=_batches_show)
    cancel = batches.add_parser("cancel", help="stop a batch taking lines")
    cancel.add_argument("batch_id")
    cancel.set_defaults(run=_batches_cancel)

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

    cache = commands.add_parser("cache", help="the answer cache").add_subparsers(
        dest="action", required=True
    )
    purge = cache.add_parser("purge", help="drop a tenant's cached answers (Redis's cache)")
    purge.add_argument("--tenant", required=True)
    purge.add_argument("--model", help="one model alias; default: all")
    purge.set_defaults(run=_cache_purge)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {key: value for key in ("host", "port") if (value := getattr(args, key, None))}
    try:
        settings = load_settings(args.config, **overrides)
        run: Command = args.run
        return run(settings, args)
    except InvalidSettings as exc:
        print(f"genai: {exc}", file=sys.stderr)
        return 2
    except (PlatformError, ValidationError) as exc:
        message = exc.message if isinstance(exc, PlatformError) else _first_error(exc)
        print(f"genai: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `genai usage | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1


def _first_error(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    field = ".".join(str(part) for part in problem["loc"])
    return f"--{field.replace('_', '-')}: {problem['msg']}"


if __name__ == "__main__":
    sys.exit(main())
