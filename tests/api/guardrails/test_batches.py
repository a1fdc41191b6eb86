"""A batch's lines pass the guardrails as interactive requests do: a masked line's provider
never sees its values and its result has them back; a blocked line fails alone."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.support import guardrails as g
from tests.support.servers import serving


def line(custom_id: str, text: str) -> bytes:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": g.CHAT,
                       "body": g.chat(text)}).encode() + b"\n"  # fmt: skip


async def run(client: httpx.AsyncClient, content: bytes) -> dict:
    uploaded = await client.post("/v1/files", data={"purpose": "batch"},
                                 files={"file": ("in.jsonl", content)})  # fmt: skip
    batch = (await client.post("/v1/batches", json={
        "input_file_id": uploaded.json()["id"], "endpoint": g.CHAT, "completion_window": "24h",
    })).json()  # fmt: skip
    for _ in range(400):
        batch = (await client.get(f"/v1/batches/{batch['id']}")).json()
        if batch["status"] in ("completed", "failed"):
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"the batch never ended: {batch['status']}")


async def results(client: httpx.AsyncClient, file_id: str) -> dict[str, dict]:
    text = (await client.get(f"/v1/files/{file_id}/content")).text
    return {row["custom_id"]: row["response"] for row in map(json.loads, text.splitlines())}


async def test_a_batchs_lines_are_masked_or_blocked_line_by_line(make_settings, recorded, script):
    platform = g.guarded_platform(make_settings, recorded[0], batch_poll_seconds=0.05)
    platform.tenant("both", guardrails={**g.MASKS, "request": {**g.MASKS["request"],
                                                               "ip": "block"}})  # fmt: skip
    headers = {"Authorization": f"Bearer {platform.key('both')}"}
    with serving(platform.app) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            batch = await run(client, line("masked", g.PROMPT) + line("blocked", "ping 10.0.0.1"))
            output = await results(client, batch["output_file_id"])
            errors = await results(client, batch["error_file_id"])
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    assert output["masked"]["body"]["choices"][0]["message"]["content"] == g.PROMPT
    assert errors["blocked"]["status_code"] == 400
    assert errors["blocked"]["body"]["error"]["code"] == "guardrail_blocked"
    assert "10.0.0.1" not in json.dumps(errors)
    assert len(script.received) == 1
    assert not [value for value in g.VALUES if value in g.sent_texts(script.received)]
