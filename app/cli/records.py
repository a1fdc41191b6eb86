"""`genai usage|batches|cache`: the ledger, batch jobs and the shared answer cache."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from app.api.openai.batch_results import CANCELLED
from app.api.openai.batches import batch_object
from app.cli.common import existing_database, table, tenant_service
from app.errors import NotFound
from app.settings import Settings
from app.storage.batches import BatchStore
from app.storage.group_commit import GroupCommit
from app.storage.tables import BatchRow
from app.usage.ledger import UsageFilter, UsageLedger


def _usage(settings: Settings, args: argparse.Namespace) -> int:
    engine = existing_database(settings)
    where = UsageFilter(
        tenant_id=args.tenant, since=args.since, until=args.until, route=args.route,
        model=args.model, batch_id=args.batch_id,
    )  # fmt: skip
    ledger = UsageLedger(engine, GroupCommit(engine))  # it only reads
    columns = ["created_at", "tenant_id", "route", "model", "status", "input_tokens",
               "output_tokens", "token_source", "cost_usd", "cache", "latency_ms"]  # fmt: skip
    for number, page in enumerate(ledger.pages(where)):  # every row, a page at a time
        print(table(page, columns, header=number == 0))
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
    tenant_service(settings, reading=True).get_tenant(args.tenant)  # "No tenant" if none
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
    return BatchStore(existing_database(settings))


def _batches_list(settings: Settings, args: argparse.Namespace) -> int:
    rows = asyncio.run(_batches(settings).page(args.tenant, args.limit, None))
    shown = [{"id": row.id, "tenant_id": row.tenant_id, "endpoint": row.endpoint,
              "status": row.status, "total": row.total, "completed": row.completed,
              "failed": row.failed,
              "created_at": datetime.fromtimestamp(row.created_at, UTC).isoformat()}
             for row in rows]  # fmt: skip
    print(table(shown, ["id", "tenant_id", "endpoint", "status", "total", "completed",
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


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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

    cache = commands.add_parser("cache", help="the answer cache").add_subparsers(
        dest="action", required=True
    )
    purge = cache.add_parser("purge", help="drop a tenant's cached answers (Redis's cache)")
    purge.add_argument("--tenant", required=True)
    purge.add_argument("--model", help="one model alias; default: all")
    purge.set_defaults(run=_cache_purge)
