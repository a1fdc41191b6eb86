"""A metered request's lifecycle, on the services production builds: admitted once, closed
exactly once into one ledger row, its running slot and reservation released however it ends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Forbidden
from app.services import Services
from app.settings import ModelSpec
from app.storage.tables import UsageRow
from app.tenants.models import KeyCreate, Principal, TenantCreate
from app.usage.lifecycle import MeteredRequest, PlannedCall
from tests.support.echo_upstream import echo_services

MODELS = {
    "open": ModelSpec(provider="openai-compatible", model="x", base_url="http://127.0.0.1:9"),
    "closed": ModelSpec(provider="openai-compatible", model="y", base_url="http://127.0.0.1:9"),
}


@pytest.fixture
def services(make_settings) -> Services:  # type: ignore[no-untyped-def]
    settings = make_settings(models=MODELS, default_model="open")
    return echo_services(settings)


def _principal(services: Services, **tenant_fields: object) -> Principal:
    services.tenants.create_tenant(TenantCreate(id="acme", max_concurrent=1, **tenant_fields))
    raw = services.tenants.create_key("acme", KeyCreate(name="test")).key
    return services.tenants.authenticate(raw)


def _rows(services: Services) -> list[UsageRow]:
    with Session(services.engine) as session:
        return list(session.scalars(select(UsageRow)))


async def _running(services: Services, principal: Principal) -> int:
    return (await services.admission.load(principal.tenant)).running


async def test_a_request_closed_twice_writes_one_row_and_releases_its_slot_once(services):
    principal = _principal(services)
    metered = MeteredRequest(services.metering, "req-1", "client-7")
    await metered.admit(principal, "generate", [PlannedCall("open", 100)])
    assert await _running(services, principal) == 1
    await metered.close(200)
    await metered.close(499, interrupted=True)  # a late second close changes nothing
    (row,) = _rows(services)
    assert (row.request_id, row.client_request_id, row.status, row.interrupted) == (
        "req-1",
        "client-7",
        200,
        False,
    )
    assert await _running(services, principal) == 0


async def test_a_request_never_admitted_leaves_no_row(services):
    await MeteredRequest(services.metering, "req-2").close(400)
    assert _rows(services) == []


async def test_a_request_is_admitted_once(services):
    principal = _principal(services)
    metered = MeteredRequest(services.metering, "req-3")
    await metered.admit(principal, "generate", [PlannedCall("open", 10)])
    with pytest.raises(RuntimeError, match="admitted once"):
        await metered.admit(principal, "generate", [PlannedCall("open", 10)])
    await metered.close(200)


async def test_a_model_outside_the_allow_list_is_refused_before_anything_is_reserved(services):
    principal = _principal(services, allowed_models=["open"])
    metered = MeteredRequest(services.metering, "req-4")
    with pytest.raises(Forbidden) as refused:
        await metered.admit(principal, "generate", [PlannedCall("closed", 10)])
    assert refused.value.code == "model_not_allowed"
    assert not metered.admitted
    assert await _running(services, principal) == 0


async def test_a_close_cancelled_midway_still_writes_its_row(services):
    """The row is written in a task of its own: a client's disconnect cannot cancel it."""
    principal = _principal(services)
    metered = MeteredRequest(services.metering, "req-5")
    await metered.admit(principal, "generate", [PlannedCall("open", 10)])
    closing = asyncio.ensure_future(metered.close(499, interrupted=True))
    await asyncio.sleep(0)
    closing.cancel()
    await services.metering.drain()
    assert [(row.status, row.interrupted) for row in _rows(services)] == [(499, True)]
    assert await _running(services, principal) == 0
