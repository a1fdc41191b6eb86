"""/code on the real embedded model: the parser's verdict is the one the client gets, repairs
included, and every reply the model wrote is billed."""

from __future__ import annotations

import pytest

from chains.code import diagnose
from tests.support.sse import read_events

pytestmark = pytest.mark.model

TASK = {"task": "Write a Python function add(a, b) that returns a + b.", "language": "python"}
CONFIG = {"configurable": {"temperature": 0, "max_tokens": 96}}


async def test_code_comes_back_with_the_parsers_verdict_and_is_billed(platform):
    async with platform.client() as client:
        response = await client.post("/code/invoke", json={"input": TASK, "config": CONFIG})
        assert response.status_code == 200, response.text
        output = response.json()["output"]
    assert output["language"] == "python" and 1 <= output["attempts"] <= 3
    assert output["diagnostics"] == diagnose("python", output["code"]), "the parser's verdict"
    assert output["valid"] == (output["diagnostics"] == [])
    row = platform.ledger_row(response.headers["x-request-id"])
    assert (row["status"], row["prompt"]) == (200, "code@1")
    assert row["token_source"] in ("provider", "counted"), "exact either way: never estimated"
    assert row["output_tokens"] > 0 and row["input_tokens"] > 0


async def test_code_streams_and_ends_with_the_verdict(platform):
    async with platform.client() as client:
        events = await read_events(client, "/code/stream", {"input": TASK, "config": CONFIG})
    chunks = [event.json() for event in events if event.event == "data"]
    code = "".join(chunk.get("code", "") for chunk in chunks)
    assert chunks[-1]["diagnostics"] == diagnose("python", code)
    assert events[-1].event == "end"
