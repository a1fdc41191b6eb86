"""Tenants see only their own sessions and usage (404 for others'), within their allow-lists."""

from __future__ import annotations

import pytest

from tests.support.tenancy import PRICED_MODELS, Platform, build_platform


@pytest.fixture
def platform(make_settings, database) -> Platform:
    platform = build_platform(
        make_settings(auth_enabled=True, database_url=database, models=PRICED_MODELS)
    )
    platform.tenant("alpha")
    platform.tenant("beta")
    return platform


def chat(text: str, session_id: str) -> dict:
    return {
        "input": {"messages": [{"type": "human", "content": text}]},
        "config": {"configurable": {"session_id": session_id}},
    }


async def test_another_tenants_session_is_not_found(platform: Platform):
    async with platform.client(platform.key("alpha")) as alpha:
        await alpha.post("/chat/invoke", json=chat("Alpha's secret is 42.", "shared-id"))
        assert (await alpha.get("/chat/history?session_id=shared-id")).status_code == 200
    async with platform.client(platform.key("beta")) as beta:
        read = await beta.get("/chat/history?session_id=shared-id")
        assert read.status_code == 404
        assert (await beta.delete("/chat/history?session_id=shared-id")).status_code == 404
        assert (await beta.get("/chat/sessions")).json() == {"sessions": []}
        # Using the same id continues beta's own (new) session: alpha's turn is not in the prompt.
        reply = await beta.post("/chat/invoke", json=chat("What is the secret?", "shared-id"))
        assert "42" not in reply.json()["output"]
    async with platform.client(platform.key("alpha")) as alpha:
        history = (await alpha.get("/chat/history?session_id=shared-id")).json()["messages"]
        assert len(history) == 2  # beta's turn went to beta's session


async def test_usage_is_per_tenant_and_admins_see_all(platform: Platform):
    for tenant in ("alpha", "beta"):
        async with platform.client(platform.key(tenant)) as client:
            await client.post("/generate/invoke", json={"input": {"prompt": tenant}})
    async with platform.client(platform.key("beta")) as beta:
        mine = (await beta.get("/usage")).json()["records"]
        assert {row["tenant_id"] for row in mine} == {"beta"}
        other = await beta.get("/usage?tenant=alpha")
        assert other.status_code == 404
    async with platform.client(platform.services.local_admin_key) as admin:
        everyone = (await admin.get("/usage")).json()["records"]
        assert {row["tenant_id"] for row in everyone} == {"alpha", "beta"}
        one = (await admin.get("/usage?tenant=alpha")).json()["records"]
        assert {row["tenant_id"] for row in one} == {"alpha"}


async def test_a_tenant_cannot_revoke_or_see_keys_of_another(platform: Platform):
    async with platform.client(platform.key("beta")) as beta:
        assert (await beta.get("/admin/keys")).status_code == 403


async def test_route_allow_list_is_enforced_with_a_clear_message(platform: Platform):
    platform.tenant("narrow", allowed_routes=["summarize"])
    async with platform.client(platform.key("narrow")) as client:
        refused = await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "route_not_allowed"
        assert "/generate" in error["message"] and "summarize" in error["message"]
        assert (await client.get("/generate/playground/index.html")).status_code == 403
        ok = await client.post("/summarize/invoke", json={"input": {"text": "Cats sleep."}})
        assert ok.status_code == 200


async def test_model_allow_list_is_enforced_with_a_clear_message(platform: Platform):
    platform.tenant("cheap", allowed_models=["local"])
    body = {"input": {"prompt": "Hi"}, "config": {"configurable": {"model": "priced"}}}
    async with platform.client(platform.key("cheap")) as client:
        refused = await client.post("/generate/invoke", json=body)
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "model_not_allowed"
        assert "'priced'" in error["message"] and "local" in error["message"]
        assert (await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})).is_success
