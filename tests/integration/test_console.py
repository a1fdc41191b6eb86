"""The console at `/`, in Debian's Chromium, against the real `genai serve` (embedded model):
every flow a user meets, as a user meets it. With GENAI_SCREENSHOTS=<folder> (docs/img for the
committed ones), each screen is saved there."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, Route, expect

from tests.integration.conftest import RunningPlatform
from tests.support.documents import pdf
from tests.support.mcp_clients import mcp_session
from tests.support.tool_server import CREDENTIAL, crm_server

SCREENSHOTS = os.environ.get("GENAI_SCREENSHOTS")
LINKS = ("Chat", "Summarize", "Generate", "Complete", "Code", "Assist", "Usage", "Batches", "Admin")
RENAMED = "renamed-chat"
TIMEOUT = 120_000  # ms: the embedded model answers one request at a time
PAGES = [
    f"Chapter {n}. The town council met on day {n} and agreed to plant trees along the river, "
    "to repair the old bridge, and to open the library on Sundays. " * 4
    for n in range(1, 7)
]


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"console-{name}.png"), full_page=True)


async def sign_in(page: Page, platform: RunningPlatform, key: str) -> None:
    await page.goto(platform.url)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
async def admin_page(page: Page, platform: RunningPlatform) -> Page:
    # Every confirmation: yes; the one prompt (a chat's new name): RENAMED.
    page.on("dialog", lambda dialog: dialog.accept(RENAMED if dialog.type == "prompt" else None))
    await sign_in(page, platform, platform.admin_key)
    return page


async def test_chat_streams_a_reply_stops_one_and_keeps_the_history(admin_page, platform):
    page = admin_page
    await page.get_by_role("link", name="Chat").click()
    await page.get_by_label("Temperature").fill("0")
    await page.get_by_label("Message", exact=True).fill("Say hello to Ada.")
    await page.get_by_role("button", name="Send").click()
    reply = page.locator(".message.ai .body").last
    await expect(page.get_by_role("button", name="Send")).to_be_enabled(timeout=TIMEOUT)
    assert (await reply.inner_text()).strip(), "a streamed reply"
    await page.get_by_label("Message", exact=True).fill(
        "Write a very long story about a dragon and a town."
    )
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".message.ai .body").last).not_to_be_empty(timeout=TIMEOUT)
    await page.get_by_role("button", name="Stop").click()
    await expect(page.get_by_text("(stopped)")).to_be_visible()
    await screenshot(page, "chat")
    await page.reload()
    await page.get_by_role("link", name="Chat").click()
    await expect(page.locator(".message.human").first).to_have_text(
        re.compile("Say hello to Ada."), timeout=10_000
    )
    assert await page.locator(".sessions li").count() >= 1


async def test_a_session_is_renamed_and_deleted(admin_page, platform):
    page = admin_page
    await page.get_by_role("link", name="Chat").click()
    await page.get_by_role("button", name="New chat").click()
    await page.get_by_label("Temperature").fill("0")
    await page.get_by_label("Message", exact=True).fill("Hi")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("button", name="Send")).to_be_enabled(timeout=TIMEOUT)
    await page.get_by_role("button", name="Rename").click()
    await expect(page.get_by_role("button", name=RENAMED)).to_be_visible()
    async with platform.client() as client:
        assert RENAMED in (await client.get("/chat/sessions")).json()["sessions"]
        await page.get_by_role("button", name="Delete").click()
        await expect(page.get_by_role("button", name=RENAMED)).to_have_count(0)
        assert RENAMED not in (await client.get("/chat/sessions")).json()["sessions"]


async def test_a_page_left_while_it_loads_never_replaces_the_page_opened_after_it(admin_page):
    """A form page waits for its input schema before it draws. CI failed when the first page
    (a form) drew over the Chat page the user had opened meanwhile: its Send button vanished.
    The schema is held here until the Chat page is shown, then let through."""
    page = admin_page
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await page.route("**/input_schema", hold)
    await page.get_by_role("link", name="Generate").click()
    await page.get_by_role("link", name="Chat").click()
    await expect(page.get_by_role("button", name="Send")).to_be_visible()
    async with page.expect_event("requestfinished", lambda r: "input_schema" in r.url):
        held.set()
    await page.evaluate("() => new Promise((done) => setTimeout(done, 200))")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Chat")
    await expect(page.get_by_role("button", name="Send")).to_be_visible()


async def test_a_multi_page_pdf_shows_its_progress_then_its_summary(admin_page, tmp_path):
    page = admin_page
    document = tmp_path / "minutes.pdf"
    document.write_bytes(pdf(PAGES))
    await page.get_by_role("link", name="Summarize").click()
    await page.get_by_label("…or a document").set_input_files(str(document))
    await page.get_by_label("bullets").check()
    await page.get_by_label("Temperature").fill("0")
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_role("status")).to_have_text("Done.", timeout=TIMEOUT)
    steps = await page.get_by_label("Progress").locator("li").all_inner_texts()
    assert steps and steps[0] == f"Part 1 of {steps[0].split()[-1]}" and len(steps) >= 2
    assert (await page.get_by_label("Output").inner_text()).strip()
    await screenshot(page, "summarize")


async def test_generate_runs_from_a_form_made_of_its_input_schema(admin_page):
    page = admin_page
    await page.get_by_role("link", name="Generate").click()
    await page.get_by_label("Prompt").fill("Name a colour.")
    await page.get_by_label("Temperature").fill("0")
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_label("Output")).not_to_be_empty(timeout=TIMEOUT)
    await expect(page.get_by_role("button", name="Run")).to_be_enabled(timeout=TIMEOUT)
    await screenshot(page, "generate")


async def test_the_code_page_shows_the_code_beside_the_parsers_verdict(admin_page):
    """/code streams its code, then the verdict: the page used to replace the first with the
    second, so the code was never shown. What the model writes is its own: the test reads the
    output's fields, not their values."""
    page = admin_page
    await page.get_by_role("link", name="Code").click()
    await page.get_by_label("Task").fill("Return the sum of two numbers.")
    await page.get_by_role("radio", name="python").check()
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_role("button", name="Run")).to_be_enabled(timeout=TIMEOUT)
    shown = json.loads(await page.get_by_label("Output").inner_text())
    assert {"code", "language", "valid", "attempts"} <= set(shown), shown
    assert shown["language"] == "python"


async def test_the_dashboard_shows_the_ledgers_numbers(admin_page, platform):
    page = admin_page
    async with platform.client() as client:
        totals = (await client.get("/usage", params={"tenant": "local"})).json()["totals"]
    await page.get_by_role("link", name="Usage").click()
    requests = page.locator("[data-total=Requests] strong")
    await expect(requests).to_have_text(str(totals["requests"]))
    tokens = page.locator("[data-total='Output tokens'] strong")
    await expect(tokens).to_have_text(str(totals["output_tokens"]))
    answered = page.locator("[data-total='Answered by the cache'] strong")
    await expect(answered).to_have_text(str(totals["cache"]["hits"] + totals["cache"]["coalesced"]))
    saved = page.locator("[data-total='Saved (USD)'] strong")
    await expect(saved).to_have_text(f"{totals['cache']['saved_usd']:.6f}")
    await expect(page.get_by_role("heading", name="Guardrails")).to_be_visible()
    assert await page.locator("canvas[data-chart]").count() == 4
    csv = page.get_by_role("link", name="Export CSV")
    assert "format=csv" in (await csv.get_attribute("href") or "")
    await screenshot(page, "usage")


async def test_a_batch_is_uploaded_watched_to_its_end_and_its_results_downloaded(
    admin_page, tmp_path
):
    page = admin_page
    lines = [{"custom_id": f"doc-{n}", "method": "POST", "url": "/v1/embeddings",
              "body": {"model": "local-embed", "input": f"Document number {n}."}}
             for n in range(3)]  # fmt: skip
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    await page.get_by_role("link", name="Batches").click()
    await page.get_by_label("Requests (JSONL)").set_input_files(requests)
    await page.get_by_label("Endpoint").select_option("/v1/embeddings")
    await page.get_by_role("button", name="Create batch").click()
    row = page.locator("tr[data-batch]").first
    await expect(row.locator("[data-status]")).to_have_text("completed", timeout=TIMEOUT)
    await expect(row.locator("[data-counts]")).to_have_text("3 of 3 done")
    assert await row.locator("progress").get_attribute("value") == "3"
    await screenshot(page, "batches")
    async with page.expect_download() as download_info:
        await row.get_by_role("link", name="Output").click()
    download = await download_info.value
    saved = tmp_path / "output.jsonl"
    await download.save_as(saved)
    answered = [json.loads(line) for line in saved.read_text().splitlines()]
    assert sorted(line["custom_id"] for line in answered) == ["doc-0", "doc-1", "doc-2"]
    assert all(line["response"]["status_code"] == 200 for line in answered)


async def test_a_batch_in_progress_is_cancelled_from_its_row(admin_page, tmp_path):
    page = admin_page
    line = {"method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "local", "max_tokens": 64,
                     "messages": [{"role": "user", "content": "Tell a long story."}]}}  # fmt: skip
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"custom_id": f"s{n}", **line}) + "\n"
                                for n in range(30)))  # fmt: skip
    await page.get_by_role("link", name="Batches").click()
    await page.get_by_label("Requests (JSONL)").set_input_files(requests)
    await page.get_by_role("button", name="Create batch").click()
    row = page.locator("tr[data-batch]").first
    await expect(row.locator("[data-status]")).to_have_text("in_progress")
    await row.get_by_role("button", name=re.compile("^Cancel")).click()
    await expect(row.locator("[data-status]")).to_have_text("cancelled", timeout=TIMEOUT)
    await expect(row.get_by_role("link", name="Errors")).to_be_visible()


async def test_an_admin_creates_a_tenant_and_a_key_that_works_then_revokes_it(admin_page, platform):
    page = admin_page
    await page.get_by_role("link", name="Admin").click()
    await page.get_by_label("Tenant id").fill("console-made")
    await page.get_by_label("Requests per minute").first.fill("30")
    await page.get_by_label("Answer cache").first.select_option("off")
    await page.get_by_label("Guardrail policy").first.fill('{"request": {"secret": "block"}}')
    await page.get_by_role("button", name="Create tenant").click()
    await page.get_by_role("button", name="Manage tenant console-made").click()
    await page.get_by_role("button", name="Purge cached answers").click()
    await expect(page.get_by_text("0 cached answers dropped.")).to_be_visible()
    await page.get_by_label("Key name").fill("from-the-console")
    await page.get_by_label("Key guardrail policy").fill('{"request": {"email": "block"}}')
    await page.get_by_role("button", name="Create key").click()
    key = (await page.locator("[data-new-key]").inner_text()).strip()
    await screenshot(page, "admin")
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        me = await client.get("/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["tenant"]["id"] == "console-made"
        assert me.json()["tenant"]["rpm"] == 30 and me.json()["tenant"]["cache"] == "off"
        assert me.json()["tenant"]["guardrails"]["request"] == {"secret": "block"}
        leaked = {"input": {"prompt": "My key is AKIAIOSFODNN7EXAMPLE."}}
        refused = await client.post(
            "/generate/invoke", json=leaked, headers={"Authorization": f"Bearer {key}"}
        )
        assert refused.status_code == 400 and "guardrail_blocked" in refused.text
        mailed = {"input": {"prompt": "Write to jane@example.com."}}  # the key's own policy
        refused = await client.post(
            "/generate/invoke", json=mailed, headers={"Authorization": f"Bearer {key}"}
        )
        assert refused.status_code == 400 and "'email'" in refused.text
        key_id = me.json()["key"]["id"]
        await page.get_by_role("button", name=f"Revoke key {key_id}").click()
        await expect(page.get_by_text(re.compile("^revoked"))).to_be_visible()
        await page.wait_for_timeout(2500)  # auth_cache_seconds: a revocation applies within it
        revoked = await client.get("/me", headers={"Authorization": f"Bearer {key}"})
        assert revoked.status_code == 401


async def test_an_admin_registers_a_tool_server_and_grants_its_tools_to_a_tenant(
    admin_page, platform, tmp_path
):
    page = admin_page
    with crm_server(tmp_path) as crm:
        await page.get_by_role("link", name="Admin").click()
        await page.get_by_label("Server name").fill("crm")
        await page.get_by_label("MCP endpoint").fill(crm.url)
        await page.get_by_label("Headers").fill(f"Authorization: {CREDENTIAL}")
        await page.get_by_label("Timeout").fill("5")
        await page.get_by_role("button", name="Register server").click()
        servers = page.get_by_role("table", name="Tool servers")
        await expect(servers).to_contain_text(crm.url)
        await expect(servers).to_contain_text("Authorization")
        assert CREDENTIAL.split()[1] not in await page.content(), "never shown again"
        await page.get_by_label("Tenant id").fill("tool-users")
        await page.get_by_label("Shared tools").first.fill("crm.lookup_customer")
        await page.get_by_label("Shared tool calls per minute").first.fill("5")
        await page.get_by_role("button", name="Create tenant").click()
        await expect(page.get_by_role("button", name="Manage tenant tool-users")).to_be_visible()
        async with platform.client() as admin:
            created = await admin.post("/admin/tenants/tool-users/keys", json={"name": "agent"})
        async with mcp_session(platform.url, created.json()["key"]) as session:
            names = [tool.name for tool in (await session.list_tools()).tools]
            result = await session.call_tool("crm.lookup_customer", {"customer_id": "c-1"})
        assert "crm.lookup_customer" in names and "crm.wait" not in names
        assert result.structuredContent["name"] == "Ada Lovelace"
        await page.get_by_role("button", name="Remove tool server crm").click()
        await expect(servers).not_to_contain_text(crm.url)


async def test_the_admin_page_keeps_no_stale_state_and_validates_the_tenant_id(admin_page):
    """Issue 29's defects: the tenant-id pattern was no valid regex under the v flag browsers
    read it with (logged, and nothing validated); an old error stayed above later successes;
    the new-tenant form kept its values; a revoked key's "shown once" box stayed."""
    page = admin_page
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    await page.get_by_role("link", name="Admin").click()
    tenant_id = page.get_by_label("Tenant id")
    await tenant_id.fill("Not Valid!")
    assert await tenant_id.evaluate("(input) => input.checkValidity()") is False
    await tenant_id.fill("local")  # exists already: an error
    await page.get_by_role("button", name="Create tenant").click()
    await expect(page.get_by_role("alert")).to_contain_text("local")
    await tenant_id.fill("fresh-state")
    await page.get_by_role("button", name="Create tenant").click()
    await expect(page.get_by_role("button", name="Manage tenant fresh-state")).to_be_visible()
    await expect(page.get_by_role("alert")).to_be_empty()
    await expect(tenant_id).to_have_value("")
    await page.get_by_role("button", name="Manage tenant fresh-state").click()
    await page.get_by_label("Key name").fill("short-lived")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("[data-new-key]")).to_be_visible()
    await page.get_by_role("button", name=re.compile("^Revoke key ")).click()
    await expect(page.get_by_text(re.compile("^revoked"))).to_be_visible()
    await expect(page.locator("[data-new-key]")).to_have_count(0)
    assert not [line for line in logged if "regular expression" in line], logged


async def test_the_sign_in_page_has_an_icon_and_a_hint_in_plain_words(page, platform):
    """Issue 29: the hint showed literal backticks, and the browser's /favicon.ico was a 404."""
    missing: list[str] = []

    def note(response: Response) -> None:  # a file of the page's, not an API answer
        if response.status >= 400 and response.request.resource_type != "fetch":
            missing.append(response.url)

    page.on("response", note)
    await page.goto(platform.url)
    form = page.get_by_role("form", name="Sign in")
    await expect(form).to_contain_text("admin-key")
    assert "`" not in await form.inner_text()
    icon = await page.locator("link[rel=icon]").get_attribute("href")
    async with httpx.AsyncClient(base_url=platform.url) as client:
        served = await client.get(icon)
    assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"
    assert missing == []


async def test_a_wrong_key_is_refused_on_the_sign_in_page(page, platform):
    await page.goto(platform.url)
    await page.get_by_label("API key").fill("gp-not-a-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("API key")
    await expect(page.get_by_label("API key")).to_be_visible()  # still on the sign-in page


async def test_an_api_error_is_shown_as_the_api_words_it(admin_page):
    page = admin_page
    await page.get_by_role("link", name="Admin").click()
    await page.get_by_label("Tenant id").fill("local")  # exists already
    await page.get_by_role("button", name="Create tenant").click()
    await expect(page.get_by_role("alert")).to_contain_text("local")


async def test_a_non_admin_sees_no_admin_page_and_the_api_refuses_it(
    browser: Browser, platform: RunningPlatform
):
    async with platform.client() as client:
        await client.post("/admin/tenants", json={"id": "plain-user"})
        created = await client.post("/admin/tenants/plain-user/keys", json={"name": "user"})
    key = created.json()["key"]
    page = await browser.new_page()
    try:
        await sign_in(page, platform, key)
        await expect(page.get_by_role("link", name="Chat")).to_be_visible()
        assert await page.get_by_role("link", name="Admin").count() == 0
        await page.goto(f"{platform.url}/#/admin")
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        refused = await page.request.get(f"{platform.url}/admin/tenants")
        assert refused.status == 403
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_label("API key")).to_be_visible()
        assert (await page.request.get(f"{platform.url}/me")).status == 401
    finally:
        await page.close()


async def test_the_console_works_at_phone_width(browser: Browser, platform: RunningPlatform):
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    try:
        await sign_in(page, platform, platform.admin_key)
        await page.get_by_role("link", name="Chat").click()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "nothing wider than the phone"
        await expect(page.get_by_label("Message", exact=True)).to_be_visible()
        await screenshot(page, "phone")
    finally:
        await page.close()


async def test_every_control_of_every_page_has_a_label(admin_page, platform):
    """Usable with a screen reader and from the keyboard: each input, select, textarea and
    button of each workspace has an accessible name."""
    page = admin_page
    for link in LINKS:
        await page.get_by_role("link", name=link, exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await page.wait_for_load_state("networkidle")
        unnamed = await page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea, button")]
                .filter((el) => !(el.labels?.length || el.getAttribute("aria-label")
                                  || el.textContent.trim() || el.closest("label")))
                .map((el) => el.outerHTML)"""
        )
        assert unnamed == [], (link, unnamed)


#: tests/support/low_contrast.js: the texts whose contrast falls short of WCAG 2's.
LOW_CONTRAST = (Path(__file__).parents[1] / "support" / "low_contrast.js").read_text()


async def test_every_text_of_every_page_is_readable_against_its_background(page, platform):
    """Readable contrast, checked rather than designed: the sign-in page and each workspace."""
    await page.goto(platform.url)
    await expect(page.get_by_label("API key")).to_be_visible()
    assert await page.evaluate(LOW_CONTRAST) == [], "sign-in"
    await sign_in(page, platform, platform.admin_key)
    for link in LINKS:
        await page.get_by_role("link", name=link, exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate(LOW_CONTRAST) == [], link


async def test_every_page_runs_within_the_content_security_policy(page, platform):
    """The console's own scripts only: no page, chart or rendered reply needs more (a
    violation is reported as a `securitypolicyviolation` event and a console error)."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    await sign_in(page, platform, platform.admin_key)
    for link in LINKS:
        await page.get_by_role("link", name=link, exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await page.wait_for_load_state("networkidle")
    assert violations == []
