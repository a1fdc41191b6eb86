"""Hostile bytes and surprising values get a 4xx JSON error naming the problem, never a 500,
and change nothing already stored."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.http.json_body import JsonRoute
from tests.conftest import api_routes
from tests.support.tenancy import Platform, build_platform

JSON = {"content-type": "application/json"}

#: Bodies no JSON parser should let through, and what the error says about each.
HOSTILE_BODIES = {
    "nested 10,000 deep": (b'{"input": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "JSON"),
    "nested 100 deep": (b'{"input": ' + b"[" * 100 + b"]" * 100 + b"}", "nested"),
    "invalid UTF-8": (b'{"input": {"prompt": "\xff\xfe"}}', "UTF-8"),
    "a lone surrogate": (b'{"input": {"prompt": "\\ud800"}}', "surrogate"),
    "NaN": (b'{"input": {"prompt": "x", "max_words": NaN}}', "JSON"),
}


@pytest.fixture
def platform(make_settings) -> Platform:
    platform = build_platform(make_settings(auth_enabled=True))
    platform.tenant("acme")
    return platform


@pytest.fixture
async def admin(platform: Platform):
    platform.tenant("ops")
    async with platform.client(platform.key("ops", admin=True)) as client:
        yield client


def test_every_route_reads_json_with_the_one_parser(echo_app: FastAPI):
    routes = api_routes(echo_app)
    assert {"/v1/chat/completions", "/admin/tenants", "/generate/invoke"} <= {
        route.path for route in routes
    }
    assert [r.path for r in routes if not isinstance(r.original_route, JsonRoute)] == []


@pytest.mark.parametrize("case", HOSTILE_BODIES)
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/generate/invoke", 422),
        ("/generate/batch", 422),
        ("/generate/stream", 422),
        ("/v1/chat/completions", 400),
        ("/admin/tenants", 422),
    ],
)
async def test_hostile_json_is_refused_with_a_reason(admin, case, path, status):
    raw, reason = HOSTILE_BODIES[case]
    response = await admin.post(path, content=raw, headers=JSON)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_json", "json_too_deep")
    assert reason in error["message"]


async def test_a_lone_surrogate_cannot_reach_the_database(admin):
    raw = b'{"id": "surrogate", "name": "\\ud800"}'
    response = await admin.post("/admin/tenants", content=raw, headers=JSON)
    assert response.status_code == 422
    assert (await admin.get("/admin/tenants/surrogate")).status_code == 404


@pytest.mark.parametrize("path", ["/generate/invoke", "/v1/chat/completions"])
async def test_a_body_that_is_not_declared_json_is_415(admin, path):
    response = await admin.post(
        path, content=b'{"input": {"prompt": "x"}}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"seed": 2**70}, "seed"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": "0.5"}, "temperature"),
        ({"n": 1.0}, "n"),
        ({"logit_bias": {"abc": "x"}}, "logit_bias"),
        ({"logit_bias": {"42": 500}}, "logit_bias"),
    ],
)
async def test_v1_refuses_values_a_provider_could_choke_on(admin, body, param):
    request = {"model": "local", "messages": [{"role": "user", "content": "hi"}], **body}
    response = await admin.post("/v1/chat/completions", json=request)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith(param)


@pytest.mark.parametrize(
    ("configurable", "param"),
    [({"max_tokens": True}, "max_tokens"), ({"temperature": "0.5"}, "temperature")],
)
async def test_chain_config_values_are_not_coerced(admin, configurable, param):
    body = {"input": {"prompt": "x"}, "config": {"configurable": configurable}}
    response = await admin.post("/generate/invoke", json=body)
    assert response.status_code == 422
    assert param in response.json()["error"]["param"]


@pytest.mark.parametrize("endpoint", ["invoke", "stream", "stream_log", "stream_events", "batch"])
@pytest.mark.parametrize("field", ["config", "kwargs"])
async def test_a_config_that_is_not_an_object_is_422_naming_it(admin, endpoint, field):
    """LangServe's own reader failed with a TypeError (a 500) on `"config": null`."""
    body = {"input": {"text": "Once"}, "inputs": [{"text": "Once"}], field: None}
    response = await admin.post(f"/complete/{endpoint}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == field


async def test_chain_input_values_are_not_coerced(admin):
    body = {"input": {"prompt": "x", "max_words": "5"}}
    response = await admin.post("/generate/invoke", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "max_words"


@pytest.mark.parametrize(
    "messages",
    [
        [["human", "My name is Ada."]],  # what RemoteRunnable sends for ("human", "...")
        [{"role": "user", "content": "My name is Ada."}],
        [{"type": "human", "content": "My name is Ada."}],
    ],
)
async def test_chat_takes_messages_in_every_shape_langchain_clients_send(admin, messages):
    response = await admin.post("/chat/invoke", json={"input": {"messages": messages}})
    assert response.status_code == 200, response.text
    assert "human: My name is Ada." in response.json()["output"]


async def test_a_chat_message_of_no_known_shape_is_422_naming_it(admin):
    body = {"input": {"messages": [{"type": "human", "content": "ok"}, ["a", "b", "c"]]}}
    response = await admin.post("/chat/invoke", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["param"].startswith("messages.1")


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"name": None}, "name"),
        ({"budget_period": None}, "budget_period"),
        ({"rpm": 2**63}, "rpm"),
        ({"tpm": 2**31}, "tpm"),
        ({"max_concurrent": 2**70}, "max_concurrent"),
        ({"budget_usd": "Infinity"}, "budget_usd"),
        ({"budget_usd": 1e300}, "budget_usd"),
        ({"rpm": "10"}, "rpm"),
        ({"allowed_routes": "generate"}, "allowed_routes"),
    ],
)
async def test_tenant_changes_are_checked_and_a_refusal_changes_nothing(admin, changes, param):
    before = (await admin.get("/admin/tenants/acme")).json()
    response = await admin.patch("/admin/tenants/acme", json=changes)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param
    assert (await admin.get("/admin/tenants/acme")).json() == before


async def test_key_flags_are_booleans_and_expiry_has_a_timezone(admin):
    for body, param in (
        ({"name": "k", "admin": "yes"}, "admin"),
        ({"name": "k", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ):
        response = await admin.post("/admin/tenants/acme/keys", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"] == param
    keys = (await admin.get("/admin/keys", params={"tenant": "acme"})).json()["keys"]
    assert keys == []


async def test_times_the_api_returns_carry_their_timezone(admin):
    tenant = (await admin.get("/admin/tenants/acme")).json()
    assert tenant["created_at"].endswith(("Z", "+00:00"))
    created = await admin.post("/admin/tenants/acme/keys", json={"name": "k"})
    assert created.json()["created_at"].endswith(("Z", "+00:00"))


async def test_hostile_bodies_leave_no_ledger_row(admin, platform):
    for raw, _ in HOSTILE_BODIES.values():
        await admin.post("/generate/invoke", content=raw, headers=JSON)
    usage = (await admin.get("/usage")).json()
    assert usage["records"] == []
