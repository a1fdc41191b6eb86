"""Moderation where a provider offers it: /v1/moderations passed through and metered, and an
alias whose moderation deployment's verdict blocks or flags a request before its provider
sees it."""

from __future__ import annotations

import openai

from app.main import create_app
from app.settings import ModelSpec
from app.usage.ledger import UsageFilter
from tests.support import guardrails as g
from tests.support.sdks import openai_over
from tests.support.tenancy import Platform


async def test_the_openai_sdks_moderations_are_passed_through_and_metered(platform, script):
    async with platform.client(platform.key("plain")) as client:
        sdk = openai_over(client)
        verdict = await sdk.moderations.create(model="moderator", input=["fine", "FLAGME now"])
    assert [result.flagged for result in verdict.results] == [False, True]
    assert verdict.model == "moderator"
    assert script.received[0]["input"] == ["fine", "FLAGME now"]
    (row,) = platform.services.ledger.page(UsageFilter(tenant_id="plain"), 10)
    assert (row["route"], row["model"], row["status"]) == ("v1/moderations", "moderator", 200)
    assert row["input_tokens"] > 0


async def test_a_flagged_request_is_blocked_before_its_provider_is_asked(platform, script):
    async with platform.client(platform.key("masks")) as client:
        sdk = openai_over(client)
        fine = await client.post(g.CHAT, json=g.chat(model="moderated"))
        refused = await client.post(g.CHAT, json=g.chat("FLAGME, you fool", model="moderated"))
        streamed = await client.post(g.CHAT, json=g.chat("FLAGME", model="moderated", stream=True))
        try:
            await sdk.chat.completions.create(model="moderated", messages=[
                {"role": "user", "content": "FLAGME"}])  # fmt: skip
        except openai.BadRequestError as error:
            raised = error
    assert fine.status_code == 200
    moderated, answered = script.received[0], script.received[1]
    assert "messages" not in moderated and "messages" in answered
    assert g.EMAIL not in str(moderated["input"]), "moderation sees what the guardrails left"
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("guardrail_blocked", "messages[0].content")
    assert "harassment" in error["message"]
    assert "guardrail_blocked" in streamed.text and streamed.status_code == 400
    assert raised.code == "guardrail_blocked"
    assert [body.get("messages") is None for body in script.received] == [
        True, False, True, True, True,
    ]  # fmt: skip


async def test_a_flagging_moderation_counts_the_request_and_lets_it_through(platform, script):
    async with platform.client(platform.key("plain")) as client:
        answer = await client.post(g.CHAT, json=g.chat("FLAGME", model="flagged"))
    assert answer.status_code == 200
    (row,) = platform.services.ledger.page(UsageFilter(tenant_id="plain"), 10)
    assert row["guardrails"] == {"request.moderation.flag": 1}
    assert row["deployments"] is not None and len(script.received) == 2


async def test_a_priced_moderation_is_reserved_for_so_it_cannot_overspend_a_budget(
    make_settings, recorded, script
):
    deployment = {"provider": "openai-compatible", "model": "m", "base_url": recorded[0],
                  "max_retries": 0}  # fmt: skip
    models = {
        "open": ModelSpec(deployments=[deployment]),
        "judge": ModelSpec(deployments=[deployment], input_price_per_million=1000.0),
        "judged": ModelSpec(deployments=[deployment], moderation={"model": "judge"}),
    }
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="open")))  # fmt: skip
    platform.tenant("thrifty", budget_usd=0.01)
    async with platform.client(platform.key("thrifty")) as client:
        refused = await client.post(g.CHAT, json=g.chat("Hi", model="judged", max_tokens=16))
        plain = await client.post(g.CHAT, json=g.chat("Hi", max_tokens=16))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert plain.status_code == 200, "the same request without a priced moderation fits"
    assert len(script.received) == 1
