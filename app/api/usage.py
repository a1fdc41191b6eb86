"""GET /usage: the caller's tenant's ledger (admins: every tenant's), as JSON or CSV.

JSON comes a page at a time (`limit`, then `after=<next_after>`), with totals of every matching
row (and, with `group_by=prompt`, per prompt version); CSV holds every matching row, streamed.
Nothing is cut off without saying so.
"""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import Query
from fastapi.responses import Response, StreamingResponse

from app.api.deps import CurrentPrincipal, ServicesDep
from app.errors import NotFound
from app.http.json_body import api_router
from app.usage.ledger import UsageFilter, UsageLedger

router = api_router(tags=["usage"])

COLUMNS = (
    "request_id", "client_request_id", "created_at", "tenant_id", "key_id", "route", "model",
    "status", "interrupted", "input_tokens", "output_tokens", "token_source", "cost_usd",
    "images", "latency_ms", "ttft_ms", "deployments", "continued", "hedged", "prompt",
    "cache", "saved_usd", "paid_by", "guardrails", "via", "tool",
)  # fmt: skip


def as_csv(records: Iterable[dict[str, Any]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(
        {**record, "guardrails": json.dumps(record["guardrails"])} if record.get("guardrails")
        else record
        for record in records
    )  # fmt: skip
    return out.getvalue()


async def csv_pages(ledger: UsageLedger, where: UsageFilter) -> AsyncIterator[str]:
    pages = iter(ledger.pages(where))
    header = True
    while page := await anyio.to_thread.run_sync(next, pages, None):
        yield as_csv(page, header)
        header = False
    if header:
        yield as_csv([], header)


@router.get("/usage", response_model=None)
async def read_usage(
    principal: CurrentPrincipal,
    services: ServicesDep,
    since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
    route: str | None = None,
    model: str | None = None,
    batch_id: Annotated[str | None, Query(description="The lines of one batch")] = None,
    tenant: Annotated[str | None, Query(description="Admins only: one tenant")] = None,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=10_000, description="Rows per JSON page")] = 1000,
    after: Annotated[int | None, Query(ge=0, description="`next_after` of the page before")] = None,
    group_by: Annotated[
        Literal["prompt", "cache"] | None,
        Query(
            description="Totals per prompt version, or the answer cache's per tenant and "
            "model, as well"
        ),
    ] = None,
) -> dict[str, Any] | Response:
    if not principal.admin:
        if tenant not in (None, principal.tenant.id):
            raise NotFound(f"No tenant '{tenant}'.", param="tenant", code="tenant_not_found")
        tenant = principal.tenant.id
    where = UsageFilter(tenant_id=tenant, since=since, until=until, route=route, model=model,
                        batch_id=batch_id)  # fmt: skip
    ledger = services.ledger
    if format == "csv":
        return StreamingResponse(csv_pages(ledger, where), media_type="text/csv")
    records = await ledger.apage(where, limit + 1, after)
    more = len(records) > limit
    records = records[:limit]
    answer = {
        "records": records,
        "totals": await ledger.atotals(where),
        "next_after": records[-1]["id"] if more else None,
    }
    if group_by == "prompt":
        answer["by_prompt"] = await ledger.atotals_by_prompt(where)
    elif group_by == "cache":
        answer["by_cache"] = await ledger.atotals_by_cache(where)
    return answer
