"""GET /usage: the caller's tenant's ledger (admins: every tenant's), as JSON or CSV."""

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import Response

from app.api.deps import CurrentPrincipal, ServicesDep
from app.errors import NotFound
from app.json_body import api_router
from app.usage.ledger import UsageFilter

router = api_router(tags=["usage"])

COLUMNS = (
    "request_id", "client_request_id", "created_at", "tenant_id", "key_id", "route", "model",
    "status", "interrupted", "input_tokens", "output_tokens", "token_source", "cost_usd",
    "latency_ms", "ttft_ms",
)  # fmt: skip


def totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requests": len(records),
        "input_tokens": sum(r["input_tokens"] for r in records),
        "output_tokens": sum(r["output_tokens"] for r in records),
        "cost_usd": sum(r["cost_usd"] for r in records),
    }


def as_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


@router.get("/usage", response_model=None)
async def read_usage(
    principal: CurrentPrincipal,
    services: ServicesDep,
    since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
    route: str | None = None,
    model: str | None = None,
    tenant: Annotated[str | None, Query(description="Admins only: one tenant")] = None,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    if not principal.admin:
        if tenant not in (None, principal.tenant.id):
            raise NotFound(f"No tenant '{tenant}'.", param="tenant", code="tenant_not_found")
        tenant = principal.tenant.id
    where = UsageFilter(tenant_id=tenant, since=since, until=until, route=route, model=model)
    records = await services.ledger.aquery(where)
    if format == "csv":
        return Response(as_csv(records), media_type="text/csv")
    return {"records": records, "totals": totals(records)}
