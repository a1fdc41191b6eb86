"""What the guardrails did is recorded as counts (the ledger, /usage, metrics, logs), and no
record or error body holds a value they matched: a run of every action, then each is read."""

from __future__ import annotations

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from tests.support import guardrails as g

AWS = "AKIAIOSFODNN7EXAMPLE"
MATCHED = (*g.VALUES, AWS)


async def test_nothing_recorded_or_refused_holds_a_matched_value(
    make_settings, recorded, script, caplog
):
    caplog.set_level(logging.DEBUG)
    platform = g.guarded_platform(make_settings, recorded[0], log_prompts=True)
    platform.tenant("answers", guardrails={**g.MASKS, "response": {"secret": "redact"}})
    platform.tenant("refuses", guardrails={"response": {"secret": "block"}})
    errors = []
    async with platform.client(platform.key("answers")) as client:
        script.answer = f"Your key {AWS} is noted."
        await client.post(g.CHAT, json=g.chat())
        await client.post(g.CHAT, json=g.chat(stream=True))
    async with platform.client(platform.key("blocks")) as client:
        errors.append((await client.post(g.CHAT, json=g.chat())).text)
    async with platform.client(platform.key("refuses")) as client:
        errors.append((await client.post(g.CHAT, json=g.chat("hi"))).text)
        errors.append((await client.post(g.CHAT, json=g.chat("hi", stream=True))).text)
    async with platform.client(platform.services.local_admin_key) as admin:
        usage = (await admin.get("/usage")).json()
        table = (await admin.get("/usage", params={"format": "csv"})).text
        metrics = (await admin.get("/metrics")).text
    logs = "\n".join(
        f"{record.getMessage()} {json.dumps(vars(record), default=str)}"
        for record in caplog.records
    )
    records = {"errors": "\n".join(errors), "usage": json.dumps(usage), "csv": table,
               "metrics": metrics, "logs": logs}  # fmt: skip
    leaks = {where: value for where, text in records.items() for value in MATCHED if value in text}
    assert leaks == {}
    assert all("guardrail_blocked" in error for error in errors)
    assert usage["totals"]["guardrails"] == {
        "request.card.mask": 2, "request.email.mask": 2, "request.iban.mask": 2,
        "request.secret.block": 1, "request.secret.mask": 2, "response.secret.block": 2,
        "response.secret.redact": 2,
    }  # fmt: skip
    assert "(withheld: guardrails acted)" in logs
    actions = {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples if sample.name == "genai_guardrail_actions_total"
    }  # fmt: skip
    key = (("action", "mask"), ("category", "email"), ("direction", "request"),
           ("tenant", "answers"))  # fmt: skip
    assert actions[key] == 2
