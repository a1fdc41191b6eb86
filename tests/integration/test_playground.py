"""The LangServe playgrounds in headless Chromium (Debian's package) against the real platform."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

pytestmark = [pytest.mark.model, pytest.mark.browser]


async def signed_in(page: Page, platform) -> None:
    """Trade the key for a session cookie once, as a person signing in on the console does."""
    await page.goto(platform.url)
    await page.get_by_label("API key").fill(platform.admin_key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("Tenant local (admin)")).to_be_visible()  # the console


async def test_summarize_playground_streams_a_summary(platform, page: Page):
    await signed_in(page, platform)
    await page.goto(f"{platform.url}/summarize/playground/", wait_until="networkidle")
    await page.locator("textarea").first.fill(
        "The city council met on Monday and approved a new park on the river bank. "
        "Construction starts in May and costs two million euros."
    )
    start = page.get_by_role("button", name="Start")
    await start.click()
    await expect(page.get_by_role("button", name="Stop")).to_be_visible(timeout=10_000)
    await expect(start).to_be_visible(timeout=60_000)  # the stream has ended
    text = await page.evaluate("document.body.innerText")
    summary = text.split("\nOutput\n", 1)[1].split("Intermediate steps", 1)[0].strip()
    assert len(summary.split()) >= 5, text


AI_REPLY = """() => {
    const roles = [...document.querySelectorAll("select")];
    const ai = roles.find((role) => role.value === "ai");
    const text = ai && ai.closest(".group").querySelector("textarea").value.trim();
    return text && text.length > 5 ? text : null;
}"""


async def test_chat_playground_shows_the_models_reply(platform, page: Page):
    await signed_in(page, platform)
    # The playground reads its input schema after the page shows: wait, as a person would.
    await page.goto(f"{platform.url}/chat/playground/", wait_until="networkidle")
    await page.get_by_placeholder("Send a message...").fill("Say hello to Ada.")
    await page.keyboard.press("Enter")
    reply = await page.wait_for_function(AI_REPLY, timeout=60_000)
    assert len(await reply.json_value()) > 5
    human = page.locator("textarea").filter(has_text="Say hello to Ada.")
    await expect(human).to_have_count(1)


async def test_api_docs_render_offline(platform, page: Page):
    await signed_in(page, platform)
    await page.goto(f"{platform.url}/docs", wait_until="networkidle")
    await expect(page.get_by_text("/v1/chat/completions").first).to_be_visible(timeout=30_000)
    html = await page.content()
    assert "cdn.jsdelivr" not in html
