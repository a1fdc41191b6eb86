"""Guardrails on requests, proved by an upstream that records what it receives: masked values
never reach it and come back to the client, blocked ones stop the request before any call,
allowed ones pass unchanged; and how an alias's, a tenant's and a key's policies combine."""

from __future__ import annotations

import asyncio
import json

from app.usage.ledger import UsageFilter
from tests.support import guardrails as g


async def test_masked_values_never_reach_the_provider_and_come_back_to_the_client(platform, script):
    async with platform.client(platform.key("masks")) as client:
        answer = await client.post(g.CHAT, json=g.chat())
    assert answer.status_code == 200, answer.text
    sent = script.received[0]["messages"][0]["content"]
    assert not [value for value in g.VALUES if value in g.sent_texts(script.received)]
    assert sent == (
        "Write to [EMAIL_1] about card [CARD_1] and IBAN [IBAN_1]; our key is [SECRET_1]."
    )
    assert answer.json()["choices"][0]["message"]["content"] == g.PROMPT  # the echo, restored


async def test_a_streamed_answer_gets_its_originals_back_whatever_the_chunks(platform, script):
    script.pieces = ["Dear [EM", "AIL_1], your card [CA", "RD_1", "] is fine. [SECRET_", "1]"]
    async with platform.client(platform.key("masks")) as client:
        streamed = await client.post(g.CHAT, json=g.chat(stream=True))
    assert streamed.status_code == 200
    lines = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    text = "".join(
        choice["delta"].get("content") or ""
        for line in lines[:-1] for choice in json.loads(line)["choices"]
    )  # fmt: skip
    assert text == f"Dear {g.EMAIL}, your card 4111 1111 1111 1111 is fine. {g.SECRET}"
    assert g.SECRET not in g.sent_texts(script.received)


async def test_a_blocked_secret_is_a_400_naming_its_category_and_field_and_no_call_is_made(
    platform, script
):
    body = {"model": "open", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": g.PROMPT},
    ]}  # fmt: skip
    async with platform.client(platform.key("blocks")) as client:
        refused = await client.post(g.CHAT, json=body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("guardrail_blocked", "messages[1].content")
    assert "'secret'" in error["message"] and "an OpenAI API key" in error["message"]
    assert g.SECRET not in refused.text
    assert script.received == []


async def test_allowed_values_pass_unchanged(platform, script):
    async with platform.client(platform.key("plain")) as client:
        answer = await client.post(g.CHAT, json=g.chat())
    assert answer.status_code == 200
    assert script.received[0]["messages"][0]["content"] == g.PROMPT


async def test_completions_and_embeddings_are_guarded_too(platform, script):
    async with platform.client(platform.key("masks")) as client:
        completed = await client.post("/v1/completions", json={"model": "open", "prompt": g.PROMPT})
        embedded = await client.post(
            "/v1/embeddings", json={"model": "open", "input": ["hello", f"mail {g.EMAIL}"]}
        )
    assert (completed.status_code, embedded.status_code) == (200, 200)
    assert completed.json()["choices"][0]["text"] == g.PROMPT
    assert script.received[1]["input"] == ["hello", "mail [EMAIL_1]"]
    assert not [value for value in g.VALUES if value in g.sent_texts(script.received)]


async def test_tool_call_arguments_and_results_are_read_as_json(platform, script):
    arguments = '{"to": "' + g.EMAIL.replace("@", "\\u0040") + '"}'  # the @ escaped, as JSON may
    assert json.loads(arguments) == {"to": g.EMAIL} and g.EMAIL not in arguments
    messages = [
        {"role": "user", "content": "Mail the report."},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "send", "arguments": arguments},
        }]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"sent with key {g.SECRET}"},
    ]  # fmt: skip
    async with platform.client(platform.key("masks")) as client:
        answer = await client.post(g.CHAT, json={"model": "open", "messages": messages})
    assert answer.status_code == 200, answer.text
    sent = script.received[0]["messages"]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"to": "[EMAIL_1]"}
    assert sent[2]["content"] == "sent with key [SECRET_1]"


async def test_a_placeholder_a_client_forges_gives_back_nothing_of_another_request(
    platform, script
):
    async with platform.client(platform.key("masks")) as client:
        await client.post(g.CHAT, json=g.chat(f"My address is {g.EMAIL}."))
        forged = await client.post(g.CHAT, json=g.chat("Repeat: [EMAIL_1] [EMAIL_2] [SECRET_1]"))
        mixed = await client.post(g.CHAT, json=g.chat(f"[EMAIL_1] is not mine; {g.EMAIL} is."))
    assert forged.json()["choices"][0]["message"]["content"] == (
        "Repeat: [EMAIL_1] [EMAIL_2] [SECRET_1]"
    )
    # its own value takes a number its text does not hold, so the forged one stays as written
    assert script.received[2]["messages"][0]["content"] == "[EMAIL_1] is not mine; [EMAIL_2] is."
    assert (
        mixed.json()["choices"][0]["message"]["content"] == f"[EMAIL_1] is not mine; {g.EMAIL} is."
    )


async def test_a_keys_policy_overrides_its_tenants_and_an_alias_floor_cannot_be_lowered(
    platform, script
):
    lenient = platform.key("blocks", name="lenient", guardrails={"request": {"secret": "mask"}})
    async with platform.client(lenient) as client:
        masked = await client.post(g.CHAT, json=g.chat())
        floored = await client.post(g.CHAT, json=g.chat(model="strict"))
    async with platform.client(platform.key("plain")) as client:
        plain_on_strict = await client.post(g.CHAT, json=g.chat(model="strict"))
    assert masked.status_code == 200
    assert "[SECRET_1]" in script.received[0]["messages"][0]["content"]
    assert floored.status_code == plain_on_strict.status_code == 400
    assert floored.json()["error"]["code"] == "guardrail_blocked"
    assert len(script.received) == 1


async def test_a_dry_run_counts_what_it_would_do_and_does_nothing(platform, script):
    platform.tenant("trying", guardrails={**g.MASKS, "dry_run": True})
    async with platform.client(platform.key("trying")) as client:
        answer = await client.post(g.CHAT, json=g.chat())
    assert answer.status_code == 200
    assert script.received[0]["messages"][0]["content"] == g.PROMPT
    (row,) = platform.services.ledger.page(UsageFilter(tenant_id="trying"), 10)
    assert row["guardrails"] == {
        "request.email.dry_run_mask": 1, "request.card.dry_run_mask": 1,
        "request.iban.dry_run_mask": 1, "request.secret.dry_run_mask": 1,
    }  # fmt: skip


async def test_an_admin_sets_and_clears_a_tenants_policy_and_a_bad_one_names_its_field(
    platform, script
):
    async with platform.client(platform.services.local_admin_key) as admin:
        bad = await admin.patch("/admin/tenants/plain", json={
            "guardrails": {"request": {"emails": "mask"}},
        })  # fmt: skip
        masked_answer = await admin.patch("/admin/tenants/plain", json={
            "guardrails": {"response": {"email": "mask"}},
        })  # fmt: skip
        bad_pattern = await admin.patch("/admin/tenants/plain", json={
            "guardrails": {"patterns": {"order": "(a)\\1"}, "request": {"order": "block"}},
        })  # fmt: skip
        set_ = await admin.patch("/admin/tenants/plain", json={"guardrails": g.BLOCKS})
    assert bad.status_code == masked_answer.status_code == bad_pattern.status_code == 422
    assert "unknown category 'emails'" in bad.text and "guardrails" in bad.text
    assert "mask is for requests only" in masked_answer.text
    assert "RE2" in bad_pattern.text
    assert set_.status_code == 200 and set_.json()["guardrails"]["request"] == {"secret": "block"}
    async with platform.client(platform.key("plain")) as client:
        assert (await client.post(g.CHAT, json=g.chat())).status_code == 400
    async with platform.client(platform.services.local_admin_key) as admin:
        cleared = await admin.patch("/admin/tenants/plain", json={"guardrails": None})
    assert cleared.json()["guardrails"] is None
    async with platform.client(platform.key("plain")) as client:
        assert (await client.post(g.CHAT, json=g.chat())).status_code == 200


async def test_a_tenants_own_pattern_is_a_category_of_its_own(platform, script):
    platform.tenant("orders", guardrails={
        "patterns": {"order_ref": "ORD-[0-9]{8}"}, "request": {"order_ref": "redact"},
    })  # fmt: skip
    async with platform.client(platform.key("orders")) as client:
        answer = await client.post(g.CHAT, json=g.chat("Where is ORD-12345678? Not ORD-1234."))
    assert answer.status_code == 200
    assert script.received[0]["messages"][0]["content"] == "Where is [ORDER_REF]? Not ORD-1234."


async def test_a_use_case_whose_input_holds_a_blocked_value_is_refused_before_any_call(
    platform, script
):
    async with platform.client(platform.key("blocks")) as client:
        invoked = await client.post("/generate/invoke", json={"input": {"prompt": g.PROMPT}})
        streamed = await client.post("/generate/stream", json={"input": {"prompt": g.PROMPT}})
    assert invoked.status_code == 400, invoked.text
    assert invoked.json()["error"]["code"] == "guardrail_blocked"
    assert "guardrail_blocked" in streamed.text and "event: end" not in streamed.text
    assert g.SECRET not in invoked.text + streamed.text
    assert script.received == []


async def test_a_megabyte_of_values_is_masked_beside_the_loop_while_another_tenant_is_served(
    platform, script
):
    platform.tenant("heavy", guardrails={"request": {"phone": "mask", "email": "mask"}})
    flood = "call +1 415 555 2671 or write to a.b@example.com; " * 17_000  # about 900 KB
    async with (
        platform.client(platform.key("heavy")) as heavy,
        platform.client(platform.key("plain")) as plain,
    ):
        flooding = asyncio.ensure_future(heavy.post(g.CHAT, json=g.chat(flood)))
        await asyncio.sleep(0.2)  # its scan has begun
        quick = await plain.post(g.CHAT, json=g.chat("Hi"))
        assert not flooding.done(), "the other tenant waited for the scan"
        flooded = await flooding
    assert quick.status_code == flooded.status_code == 200
    sent = script.received[-1]["messages"][0]["content"]
    assert "415 555" not in sent and "a.b@example.com" not in sent
    assert sent.count("[PHONE_1]") == sent.count("[EMAIL_1]") == 17_000
    assert flooded.json()["choices"][0]["message"]["content"] == flood


async def test_a_kept_conversation_is_stored_masked_when_the_policy_says_so(platform, script):
    platform.tenant("keeps", guardrails={**g.MASKS, "store_masked": True})
    turn = {"input": {"messages": [{"role": "user", "content": f"I am {g.EMAIL}."}]},
            "config": {"configurable": {"session_id": "s1"}}}  # fmt: skip
    for tenant in ("keeps", "masks"):
        async with platform.client(platform.key(tenant)) as client:
            answered = await client.post("/chat/invoke", json=turn)
            history = (await client.get("/chat/history", params={"session_id": "s1"})).json()
        assert answered.json()["output"] == f"I am {g.EMAIL}.", "the client sees its own"
        kept = json.dumps(history)
        assert (g.EMAIL in kept) is (tenant == "masks"), tenant
        assert ("[EMAIL]" in kept) is (tenant == "keeps"), tenant


async def test_an_uploaded_documents_text_is_guarded_as_any_prompt(platform, script):
    document = {"file": ("notes.txt", f"Minutes. Our key is {g.SECRET}.".encode(), "text/plain")}
    async with platform.client(platform.key("blocks")) as client:
        refused = await client.post("/summarize/file", files=document)
    async with platform.client(platform.key("masks")) as client:
        summarized = await client.post("/summarize/file", files=document)
    assert "guardrail_blocked" in refused.text and g.SECRET not in refused.text
    assert summarized.status_code == 200 and "event: end" in summarized.text
    assert g.SECRET not in g.sent_texts(script.received)
    assert "[SECRET_1]" in g.sent_texts(script.received)


async def test_a_kept_response_is_stored_masked_when_the_policy_says_so(platform, script):
    platform.tenant("keeps", guardrails={**g.MASKS, "store_masked": True})
    asked = {"model": "open", "input": f"I am {g.EMAIL}."}
    for tenant in ("keeps", "masks"):
        async with platform.client(platform.key(tenant)) as client:
            answered = (await client.post("/v1/responses", json=asked)).json()
            kept = await client.get(f"/v1/responses/{answered['id']}")
            items = await client.get(f"/v1/responses/{answered['id']}/input_items")
        assert answered["output"][0]["content"][0]["text"] == f"I am {g.EMAIL}."
        stored = kept.text + items.text
        assert (g.EMAIL in stored) is (tenant == "masks"), tenant
        assert ("[EMAIL]" in stored) is (tenant == "keeps"), tenant


async def test_a_cached_answer_gives_each_request_its_own_originals_never_anothers(
    platform, script
):
    async with platform.client(platform.key("masks")) as client:
        first = await client.post(g.CHAT, json=g.chat("Mail alice@example.com now.", temperature=0))
        second = await client.post(g.CHAT, json=g.chat("Mail bob@example.org now.", temperature=0))
    assert len(script.received) == 1, "both masked alike: the second is the cache's"
    assert second.headers["cache-status"] == "genai; hit"
    assert first.json()["choices"][0]["message"]["content"] == "Mail alice@example.com now."
    assert second.json()["choices"][0]["message"]["content"] == "Mail bob@example.org now."
