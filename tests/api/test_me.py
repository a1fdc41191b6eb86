"""What the console reads and does through the API: /me, /signout, renaming a chat session."""

from __future__ import annotations

import pytest

from tests.api.test_chat_sessions import chat_body
from tests.support.tenancy import Platform, build_platform, sign_in


@pytest.fixture
def platform(make_settings) -> Platform:
    return build_platform(make_settings(auth_enabled=True))


async def test_me_shows_a_tenant_its_own_limits_budget_models_and_refusals(platform):
    platform.tenant("acme", rpm=1, budget_usd=5.0, allowed_models=["local"],
                    allowed_routes=["chat", "generate"])  # fmt: skip
    async with platform.client(platform.key("acme", name="app")) as client:
        assert (await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})).is_success
        refused = await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})
        assert refused.status_code == 429
        me = (await client.get("/me")).json()
    assert (me["tenant"]["id"], me["tenant"]["rpm"], me["key"]["name"]) == ("acme", 1, "app")
    assert me["key"]["admin"] is False and "secret_hash" not in str(me)
    assert me["models"] == me["chat_models"] == ["local"]
    assert [one["name"] for one in me["use_cases"]] == ["chat", "generate"]
    assert me["load"]["budget"]["limit_usd"] == 5.0
    assert me["refused"] == {"rpm": 1}


async def test_me_names_the_console_page_of_each_use_case_by_its_kind_not_its_name(platform):
    """The console draws a use case's page from what /me says of it: a chat playground is a
    conversation, a use case that reads documents names the field a document fills."""
    platform.tenant("acme")
    async with platform.client(platform.key("acme")) as client:
        me = (await client.get("/me")).json()
    pages = {one["name"]: (one["workspace"], one["document_field"]) for one in me["use_cases"]}
    assert pages == {
        "chat": ("conversation", None),
        "summarize": ("document", "text"),
        "generate": ("form", None),
        "complete": ("form", None),
        "code": ("form", None),
        "assist": ("form", None),
    }


async def test_signing_out_ends_the_browser_session_on_the_server(platform):
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client() as client:
        await sign_in(client, key)
        cookie = client.cookies["genai_session"]
        assert (await client.get("/me")).status_code == 200
        signed_out = await client.post("/signout", headers={"Origin": "http://platform"})
        assert signed_out.status_code == 204
        assert 'genai_session=""' in signed_out.headers["set-cookie"]
        assert (await client.get("/me")).status_code == 401
        client.cookies["genai_session"] = cookie  # a copy kept of the old cookie
        assert (await client.get("/me")).status_code == 401, "the session itself has ended"


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {}]
)
async def test_another_site_can_neither_sign_a_browser_in_nor_out(platform, headers):
    """Login CSRF: a page elsewhere posting its own key would sign the victim into the
    attacker's tenant; a sign-out from elsewhere is refused too. A GET signs nobody in."""
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client() as client:
        refused = await client.post("/signin", json={"key": key}, headers=headers)
        assert refused.status_code == 403 and "genai_session" not in client.cookies
        assert refused.json()["error"]["code"] == "cross_site_request"
        await client.get(f"/?token={key}")
        assert "genai_session" not in client.cookies, "the old GET sign-in is gone"
        await sign_in(client, key)
        assert (await client.post("/signout", headers=headers)).status_code == 403
        assert (await client.get("/me")).status_code == 200, "still signed in"


async def test_the_console_page_may_not_be_framed_and_runs_its_own_scripts_only(platform):
    async with platform.client() as client:
        page = await client.get("/")
        head = await client.head("/")
    assert page.status_code == head.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert head.headers["content-security-policy"] == policy


async def test_a_chat_session_is_renamed_within_its_tenant_only(platform):
    platform.tenant("acme")
    platform.tenant("other")
    async with platform.client(platform.key("acme")) as acme:
        await acme.post("/chat/invoke", json=chat_body("Hi", "first"))
        await acme.post("/chat/invoke", json=chat_body("Hi", "second"))
        taken = await acme.post("/chat/sessions/first/rename", json={"to": "second"})
        assert taken.status_code == 409 and taken.json()["error"]["param"] == "to"
        renamed = await acme.post("/chat/sessions/first/rename", json={"to": "trip-plans"})
        assert renamed.json() == {"session_id": "trip-plans", "messages": 2}
        assert sorted((await acme.get("/chat/sessions")).json()["sessions"]) == [
            "second", "trip-plans"
        ]  # fmt: skip
        bad = await acme.post("/chat/sessions/second/rename", json={"to": "no spaces"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "to"
    async with platform.client(platform.key("other")) as other:
        foreign = await other.post("/chat/sessions/second/rename", json={"to": "mine"})
        assert foreign.status_code == 404


async def test_me_names_the_models_that_chat_apart_from_the_embedding_one(platform):
    """The console's model pickers offer only aliases a chain can call."""
    platform.tenant("acme")
    async with platform.client(platform.key("acme")) as client:
        me = (await client.get("/me")).json()
    assert me["models"] == ["local", "local-embed"]
    assert me["chat_models"] == ["local"]
