"""Keys: required everywhere but /health and /ready, revocable, expiring, never stored raw."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.tenants.bootstrap import ensure_local_admin
from app.tenants.models import KeyCreate
from tests.conftest import api_routes
from tests.support.tenancy import PRICED_MODELS, Platform, build_platform, sign_in

GENERATE = {"input": {"prompt": "Hi"}}


@pytest.fixture
def platform(make_settings, database) -> Platform:
    return build_platform(
        make_settings(auth_enabled=True, database_url=database, models=PRICED_MODELS)
    )


async def test_requests_without_a_key_get_401(platform: Platform):
    async with platform.client() as client:
        for method, path in [("POST", "/generate/invoke"), ("GET", "/generate/input_schema"),
                             ("GET", "/generate/playground/index.html"), ("GET", "/usage"),
                             ("GET", "/chat/sessions"), ("GET", "/docs"), ("GET", "/openapi.json"),
                             ("GET", "/admin/tenants"), ("GET", "/me")]:  # fmt: skip
            response = await client.request(method, path, json=GENERATE)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert "API key is required" in response.json()["error"]["message"]


async def test_health_and_ready_need_no_key(platform: Platform):
    async with platform.client() as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200


async def test_the_console_page_and_its_files_need_no_key_and_hold_no_data(platform: Platform):
    """The console signs in from its own page, so the page is public: it is the same file for
    everyone, and every datum comes from the API, which needs a key."""
    async with platform.client() as client:
        home = await client.get("/")
        assert home.status_code == 200 and "genai-platform console" in home.text
        assert (await client.get("/console/js/main.mjs")).status_code == 200
        assert (await client.get("/console/vendor/chart.umd.min.js")).status_code == 200
        assert (await client.get("/console/../app/settings.py")).status_code == 404


async def test_a_key_works_as_bearer_or_x_api_key(platform: Platform):
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client() as client:
        bearer = await client.post(
            "/generate/invoke", json=GENERATE, headers={"Authorization": f"Bearer {key}"}
        )
        header = await client.post("/generate/invoke", json=GENERATE, headers={"X-API-Key": key})
    assert bearer.status_code == header.status_code == 200


@pytest.mark.parametrize("key", ["nonsense", "gp-000000000000-" + "0" * 48, "Bearer"])
async def test_unknown_keys_get_401(platform: Platform, key: str):
    async with platform.client(key) as client:
        response = await client.post("/generate/invoke", json=GENERATE)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_a_key_with_a_right_id_but_wrong_secret_gets_401(platform: Platform):
    platform.tenant("acme")
    key = platform.key("acme")
    forged = key[:-4] + ("0000" if not key.endswith("0000") else "1111")
    async with platform.client(forged) as client:
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 401


async def test_a_revoked_key_is_refused_at_the_next_request(platform: Platform):
    platform.tenant("acme")
    created = platform.services.tenants.create_key("acme", KeyCreate(name="test"))
    async with platform.client(created.key) as client:
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 200
        platform.services.tenants.revoke_key(created.id)
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 401


async def test_an_expired_key_is_refused(platform: Platform):
    platform.tenant("acme")
    past = datetime.now(UTC) - timedelta(seconds=1)
    key = platform.key("acme", expires_at=past)
    async with platform.client(key) as client:
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 401


async def test_the_raw_key_is_never_stored_listed_or_logged(platform: Platform, caplog):
    caplog.set_level(logging.DEBUG)
    platform.tenant("acme")
    created = platform.services.tenants.create_key("acme", KeyCreate(name="test"))
    secret = created.key.rsplit("-", 1)[1]
    admin = platform.services.local_admin_key
    async with platform.client(admin) as client:
        await client.post("/generate/invoke", json=GENERATE, headers={"X-API-Key": created.key})
        listed = (await client.get("/admin/keys")).text
        usage = (await client.get("/usage")).text
    assert secret not in listed and secret not in usage
    assert created.id in listed
    with platform.services.engine.connect() as connection:
        for table in ("api_keys", "tenants", "usage"):
            dump = str(connection.execute(text(f"select * from {table}")).all())
            assert secret not in dump, table
    assert secret not in caplog.text


async def test_a_browser_trades_the_key_for_a_session_cookie(platform: Platform):
    platform.tenant("acme")
    created = platform.services.tenants.create_key("acme", KeyCreate(name="test"))
    async with platform.client() as client:
        response = await sign_in(client, created.key)
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "genai_session=" in cookie
        assert created.key not in cookie
        me = await client.get("/me")  # the client keeps the cookie, as a browser does
        assert me.json()["tenant"]["id"] == "acme" and me.json()["key"]["id"] == created.id
        assert (await client.get("/summarize/playground/index.html")).status_code == 200
        platform.services.tenants.revoke_key(created.id)
        assert (await client.get("/summarize/playground/index.html")).status_code == 401


async def test_a_tampered_session_cookie_is_refused(platform: Platform):
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client() as client:
        await sign_in(client, key)
        value = client.cookies["genai_session"]
        client.cookies.clear()
        client.cookies["genai_session"] = value[:-1] + ("A" if value[-1] != "A" else "B")
        assert (await client.get("/me")).status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://platform", "Sec-Fetch-Site": "same-origin"}, 200),  # the playground
        ({"Origin": "http://platform"}, 200),  # a browser without Sec-Fetch-Site
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "http://platform:3000", "Sec-Fetch-Site": "same-site"}, 403),  # same site,
        ({"Origin": "http://evil.example"}, 403),  # another origin              # another port
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({}, 403),  # nothing shows where it comes from
    ],
)
async def test_a_browser_session_is_honoured_for_model_calls_only_from_this_origin(
    platform: Platform, headers, status
):
    """Cross-site request forgery: a page elsewhere may make the browser send its session
    cookie along; what it may not do is send this origin's Origin or Sec-Fetch-Site."""
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client() as browser:
        await sign_in(browser, key)
        for path, body in (
            ("/generate/invoke", {"input": {"prompt": "Hi"}}),
            ("/v1/chat/completions", {"model": "local", "messages": []}),
        ):
            response = await browser.post(path, json=body, headers=headers)
            expected = status if status == 403 or path != "/v1/chat/completions" else 400
            assert response.status_code == expected, (path, response.text)
            if status == 403:
                assert response.json()["error"]["code"] == "cross_site_request"
        deleted = await browser.delete("/chat/history?session_id=x", headers=headers)
        assert deleted.status_code == (403 if status == 403 else 404)
        assert (await browser.get("/usage", headers=headers)).status_code == 200  # reading is safe
    async with platform.client(key) as app:  # a key in a header is never sent by a browser
        response = await app.post("/generate/invoke", json={"input": {"prompt": "Hi"}},
                                  headers={"Origin": "https://evil.example"})  # fmt: skip
    assert response.status_code == 200


async def test_only_admin_keys_reach_admin(platform: Platform):
    platform.tenant("acme")
    async with platform.client(platform.key("acme")) as client:
        response = await client.get("/admin/tenants")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"


async def test_an_admin_creates_a_tenant_and_a_key_that_works(platform: Platform):
    async with platform.client(platform.services.local_admin_key) as admin:
        created = await admin.post("/admin/tenants", json={"id": "partner-a", "rpm": 5})
        assert created.status_code == 201
        assert created.json()["rpm"] == 5
        key = await admin.post("/admin/tenants/partner-a/keys", json={"name": "prod"})
        assert key.status_code == 201
        raw = key.json()["key"]
        again = await admin.post("/admin/tenants", json={"id": "partner-a"})
        assert again.status_code == 422 and again.json()["error"]["param"] == "id"
        patched = await admin.patch("/admin/tenants/partner-a", json={"rpm": 7})
        assert patched.json()["rpm"] == 7
        bad = await admin.post("/admin/tenants", json={"id": "Not A Slug"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "id"
    async with platform.client(raw) as client:
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 200


def test_replicas_starting_together_on_a_new_database_make_one_local_admin(
    platform: Platform, tmp_path, monkeypatch
):
    """A second replica that saw no tenant a moment before the first created 'local' starts
    anyway (without an admin key file of its own) instead of crashing."""
    tenants = platform.services.tenants
    monkeypatch.setattr(tenants, "has_tenants", lambda: False)  # what it saw a moment ago
    assert ensure_local_admin(tenants, tmp_path / "other-replica" / "admin-key") is None
    assert [tenant.id for tenant in tenants.list_tenants()] == ["local"]


async def test_the_data_folder_is_readable_by_its_owner_only(make_settings, tmp_path):
    """Chat contents, the ledger and key hashes: no other local user may read them."""
    data_dir = tmp_path / "fresh"
    platform = build_platform(make_settings(data_dir=data_dir, auth_enabled=True))
    async with platform.client(platform.services.local_admin_key) as client:
        chat = {"input": {"messages": [{"type": "human", "content": "secret"}]},
                "config": {"configurable": {"session_id": "s"}}}  # fmt: skip
        assert (await client.post("/chat/invoke", json=chat)).status_code == 200
        files = {path.name: path.stat().st_mode & 0o777 for path in data_dir.iterdir()}
    assert {"genai.db", "genai.db-wal", "genai.db-shm", "admin-key", "secret-key"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
    assert data_dir.stat().st_mode & 0o777 == 0o700


#: The routes anyone may call: health, the console's page, signing in and out.
PUBLIC = {"/health", "/ready", "/", "/signin", "/signout"}


async def test_every_route_but_the_public_ones_refuses_a_caller_without_a_key(make_settings):
    """Routes check their caller in two ways (a guard dependency, or MeteredEndpoint for those
    that reach a model): every route of the app, enumerated, must do one of them."""
    platform = build_platform(make_settings(auth_enabled=True, models=PRICED_MODELS))
    await platform.app.state.use_cases.done()  # the use cases mounted, as after startup
    open_routes = []
    async with platform.client() as client:
        for route in api_routes(platform.app):
            if route.path in PUBLIC or route.path.startswith("/console"):
                continue
            path = re.sub(r"\{[^}:]+(:path)?\}", "x", route.path)
            for method in sorted(route.methods - {"HEAD"}):
                response = await client.request(method, path, json=GENERATE)
                if response.status_code != 401:
                    open_routes.append(f"{method} {route.path}: {response.status_code}")
    assert open_routes == []
