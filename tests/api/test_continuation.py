"""An answer a deployment cuts short mid-stream is continued on the next one: the client sees one
whole answer, with nothing repeated and nothing missing, and the ledger one row for both calls.

Each test scripts its deployments in process (tests/support/scripted_upstream.py): `drop`
streams 3 words, then its connection is cut; `unfinished` 3 words, then an end with no finish;
`malformed` 2 words, then a chunk that is not an object; `broken` fails with a 500. The backup,
`ok`, asked to continue, streams only the words after the partial answer it is given.
"""

from __future__ import annotations

import json

import openai
import pytest

from app.main import create_app
from app.providers.continuation import CONTINUE_INSTRUCTION
from app.services import build_services
from app.settings import ModelSpec
from tests.support.scripted_upstream import Script, rest_of, status, stream
from tests.support.sse import read_events
from tests.support.tenancy import Platform

MESSAGES = [{"role": "user", "content": "Hi"}]


HELLO = "fault upstream says hello"
WORDS = ("fault ", "upstream ", "says ")


def deployment(model: str, **fields: object) -> dict:
    return {"provider": "openai-compatible", "model": model, "base_url": "http://scripted/v1",
            "max_retries": 0, "timeout": 5, **fields}  # fmt: skip


@pytest.fixture
def script() -> Script:
    return Script(
        ok=[rest_of(HELLO)],
        drop=[stream(*WORDS, end="cut")],
        unfinished=[stream(*WORDS, end="unfinished")],
        malformed=[stream(*WORDS[:2], end="malformed")],
        broken=[status(500)],
    )


@pytest.fixture
def platform(make_settings, script: Script) -> Platform:
    def alias(*models: str, **fields: object) -> ModelSpec:
        return ModelSpec(
            deployments=[deployment(model) for model in models],
            input_price_per_million=1.0, output_price_per_million=2.0, **fields,
        )  # fmt: skip

    models = {
        "ok": alias("ok"),
        "cut": alias("drop", "ok"),
        "unfinished": alias("unfinished", "ok"),
        "malformed": alias("malformed", "ok"),
        "cut-then-broken": alias("drop", "broken"),
        "no-continuation": alias("drop", "ok", continue_on_failure=False),
        "prefixed": ModelSpec(
            deployments=[
                deployment("drop"),
                deployment("ok", continuation="prefix"),
            ],
        ),
    }
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(services=build_services(settings, script.transport)))
    platform.tenant("acme")
    platform.tenant("ops")
    return platform


async def stream_text(platform: Platform, model: str, **extra: object) -> tuple[str, list[str]]:
    """The streamed answer's text, and every `data:` line that carried it."""
    body = {"model": model, "messages": MESSAGES, "stream": True, "max_tokens": 50, **extra}
    async with (
        platform.client(platform.key("acme")) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        lines = [line[5:].strip() async for line in response.aiter_lines() if line[:5] == "data:"]
    text = ""
    for data in lines[:-1]:
        for choice in json.loads(data).get("choices", []):
            text += choice["delta"].get("content") or ""
    return text, lines


async def only_row(platform: Platform) -> dict:
    async with platform.client(platform.key("acme")) as client:
        [row] = (await client.get("/usage")).json()["records"]
    return row


def served_by(row: dict) -> list[str]:
    """The scripted model name of each deployment the row names."""
    return [name.split(":")[1].split("@")[0] for name in row["deployments"].split(",")]


@pytest.mark.parametrize("model", ["cut", "unfinished", "malformed"])
async def test_a_stream_cut_short_is_continued_on_the_next_deployment(platform, model):
    text, lines = await stream_text(platform, model)
    assert text == HELLO, "the primary's part, then the rest: nothing repeated, nothing missing"
    assert lines[-1] == "[DONE]"
    row = await only_row(platform)
    assert (row["status"], row["interrupted"], row["continued"]) == (200, False, True)
    assert served_by(row) == [platform.services.settings.models[model].primary.model, "ok"]


async def test_the_continuation_asks_for_the_rest_of_the_same_answer(platform, script):
    await stream_text(platform, "cut")
    sent = script.sent_to("ok")[-1]
    assert sent["messages"][:-2] == MESSAGES
    assert sent["messages"][-2] == {"role": "assistant", "content": "fault upstream says "}
    assert sent["messages"][-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert sent["max_tokens"] == 50 - 3, "the answer's limit, less the 3 chunks already sent"


async def test_a_prefix_deployment_gets_the_partial_answer_as_the_assistants_prefix(
    platform, script
):
    text, _ = await stream_text(platform, "prefixed")
    assert text == HELLO
    last = script.sent_to("ok")[-1]["messages"][-1]
    assert last == {"role": "assistant", "content": "fault upstream says ", "prefix": True}


async def test_the_ledger_bills_both_calls(platform):
    """The continuation's prompt holds the partial answer: its input is billed on top of the
    first call's, and the output is the whole answer's."""
    await stream_text(platform, "ok")
    await stream_text(platform, "cut")
    async with platform.client(platform.key("acme")) as client:
        plain, continued = (await client.get("/usage")).json()["records"]
    assert continued["input_tokens"] > 2 * plain["input_tokens"]
    assert continued["output_tokens"] == plain["output_tokens"]
    expected_cost = (continued["input_tokens"] * 1.0 + continued["output_tokens"] * 2.0) / 1e6
    assert continued["cost_usd"] == pytest.approx(expected_cost)


async def test_a_chain_stream_is_continued_too(platform):
    async with platform.client(platform.key("acme")) as client:
        body = {"input": {"text": "Once"}, "config": {"configurable": {"model": "cut"}}}
        events = await read_events(client, "/complete/stream", body)
    assert [event.event for event in events][-1] == "end"
    assert "".join(event.json() for event in events if event.event == "data") == HELLO
    row = await only_row(platform)
    assert (row["status"], row["continued"], served_by(row)) == (200, True, ["drop", "ok"])


async def test_the_openai_sdk_streams_through_a_continuation_unaware(platform):
    async with platform.client() as http:
        sdk = openai.AsyncOpenAI(
            base_url="http://platform/v1", api_key=platform.key("acme"), http_client=http
        )
        stream = await sdk.chat.completions.create(model="cut", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == HELLO
    assert {chunk.id for chunk in chunks} == {chunks[0].id}, "one completion, one id"
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("no-continuation", "continue_on_failure is false"),
        ("cut-then-broken", "the backup fails too"),
    ],
)
async def test_with_no_deployment_to_continue_the_client_gets_the_honest_error(
    platform, model, why
):
    text, lines = await stream_text(platform, model)
    assert lines[-1] != "[DONE]", why
    error = json.loads(lines[-1])["error"]
    assert error["code"] == "provider_cut"
    assert HELLO.startswith(text) and text != HELLO
    row = await only_row(platform)
    assert (row["status"], row["interrupted"], row["continued"]) == (502, True, False)


async def test_metrics_count_continuations_by_alias_and_deployment(platform):
    await stream_text(platform, "cut")
    await stream_text(platform, "cut")
    async with platform.client(platform.key("ops", admin=True)) as admin:
        scraped = (await admin.get("/metrics")).text
    [line] = [line for line in scraped.splitlines() if line.startswith("genai_continuations_total")]
    assert 'model="cut"' in line and "model=ok" not in line and line.endswith(" 2.0")
    assert ":ok@" in line, "the deployment that continued"


@pytest.mark.parametrize("model", ["ok", "cut"])
@pytest.mark.parametrize("surface", ["v1", "chain"])
async def test_a_streamed_answer_is_billed_once(platform, model, surface):
    """The answer is 25 characters: 7 tokens at 4 characters a token (5 + 2 when continued),
    however many places saw it go by (the chain's callbacks, the dispatcher, the relay)."""
    if surface == "v1":
        await stream_text(platform, model)
    else:
        body = {"input": {"text": "Once"}, "config": {"configurable": {"model": model}}}
        async with platform.client(platform.key("acme")) as client:
            await read_events(client, "/complete/stream", body)
    row = await only_row(platform)
    assert (row["output_tokens"], row["token_source"]) == (7, "estimated")
