"""Every way a provider fails, on /v1 and on a chain route, whole and streamed, alone and with
a fallback deployment, and streamed on the Responses and Messages dialects (their whole
answers take /v1's path; their streams end in their own failure events): what the client
sees, the one ledger row, and the tenant's concurrency and reservations back at zero
afterwards.

The rule under test: until the first byte of an answer reaches the client, any failure goes to
the next deployment; after it, a failure of the deployment (cut, malformed, unfinished) is
continued on the next deployment, and anything else gets the client an error (never a clean
end); the ledger says what happened. The faults are our own upstream's
(tests/support/fault_upstream.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx
import pytest

from app.main import create_app
from app.providers.local_server import free_loopback_port
from app.settings import ModelSpec
from tests.support.fault_upstream import HELLO
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform

Outcome = tuple[str, int, str] | None  # None: answered; (when, status, code): the error

#: fault -> (not streaming, streaming). "before": nothing reached the client yet.
FAULTS: dict[str, tuple[Outcome, Outcome]] = {
    "html": (("before", 502, "provider_malformed"), ("before", 502, "provider_malformed")),
    "empty": (None, ("before", 502, "provider_incomplete")),
    "late": (("before", 504, "provider_timeout"), ("before", 504, "provider_timeout")),
    "hang": (("before", 504, "provider_timeout"), ("before", 504, "provider_timeout")),
    "unavailable": (("before", 502, "provider_failed"), ("before", 502, "provider_failed")),
    "rate-limited": (
        ("before", 429, "provider_rate_limited"), ("before", 429, "provider_rate_limited")
    ),
    "broken": (("before", 502, "provider_failed"), ("before", 502, "provider_failed")),
    "refuses": (
        ("before", 400, "context_length_exceeded"), ("before", 400, "context_length_exceeded")
    ),
    "unreachable": (
        ("before", 502, "provider_unreachable"), ("before", 502, "provider_unreachable")
    ),
    "malformed": (("before", 502, "provider_malformed"), ("mid", 502, "provider_malformed")),
    "drop": (None, ("mid", 502, "provider_cut")),
    "unfinished": (None, ("mid", 502, "provider_incomplete")),
    "error-chunk": (None, ("mid", 502, "provider_failed")),
}  # fmt: skip

#: Faults after the first byte that the next deployment continues (an error chunk is not one).
CONTINUED = {"malformed", "drop", "unfinished"}


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    def deployment(fault: str) -> dict:
        url = f"http://127.0.0.1:{free_loopback_port()}/v1" if fault == "unreachable" else upstream
        return {"provider": "openai-compatible", "model": fault, "base_url": url,
                "max_retries": 0, "timeout": 5, "first_token_timeout": 0.5}  # fmt: skip

    def alias(*faults: str) -> ModelSpec:
        return ModelSpec(deployments=[deployment(fault) for fault in faults],
                         input_price_per_million=1.0, output_price_per_million=2.0)  # fmt: skip

    models = {"ok": alias("ok")}
    for fault in FAULTS:
        models[fault] = alias(fault)
        models[f"{fault}-then-ok"] = alias(fault, "ok")
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(settings))
    platform.tenant("acme", max_concurrent=50, tpm=10_000_000, budget_usd=1000.0)
    platform.tenant("ops")
    return platform


@dataclass
class Seen:
    """What a client saw: the status, the text that arrived, and how it ended."""

    status: int
    text: str
    error: dict | None  # the error body or event, if one came


#: Anthropic's error type for each status the faults end in (its shape has no code).
ANTHROPIC_TYPES = {400: "invalid_request_error", 429: "rate_limit_error", 502: "api_error",
                   504: "timeout_error"}  # fmt: skip


def expected_code(surface: str, when: str, status: int, code: str) -> str:
    """The code a client of `surface` reads for the platform's `code`: the Responses API's own
    for a failed response, Anthropic's error type."""
    if surface == "messages":
        return ANTHROPIC_TYPES[status]
    if surface == "responses" and when == "mid":
        return "server_error"
    return code


async def ask(client: httpx.AsyncClient, surface: str, streamed: bool, model: str) -> Seen:
    hi = [{"role": "user", "content": "Hi"}]
    if surface == "v1":
        body = {"model": model, "messages": hi, "max_tokens": 16, "stream": streamed}
        path = "/v1/chat/completions"
    elif surface == "responses":
        body = {"model": model, "input": "Hi", "max_output_tokens": 16, "stream": streamed}
        path = "/v1/responses"
    elif surface == "messages":
        body = {"model": model, "messages": hi, "max_tokens": 16, "stream": streamed}
        path = "/v1/messages"
    else:
        body = {"input": {"text": "Once"}, "config": {"configurable": {"model": model}}}
        path = "/complete/stream" if streamed else "/complete/invoke"
    async with client.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            error = json.loads(await response.aread())["error"]
            if surface == "messages":
                error = {"code": error["type"], **error}
            return Seen(response.status_code, "", error)
        if surface in ("responses", "messages"):
            return await _typed_events(response)
        if not streamed:
            answer = json.loads(await response.aread())
            text = answer["output"] if surface == "chain" else answer["choices"][0]["message"]
            return Seen(200, text if surface == "chain" else text["content"], None)
        if surface == "chain":
            return await _chain_events(response)
        return await _v1_chunks(response)


async def _chain_events(response: httpx.Response) -> Seen:
    text, error = "", None
    events = [event async for event in aiter_events(response)]
    for event in events:
        if event.event == "data":
            text += event.json()
        if event.event == "error":
            error = event.json()
    assert (events[-1].event == "end") == (error is None), "an error never ends with `end`"
    return Seen(200, text, error)


async def _typed_events(response: httpx.Response) -> Seen:
    """A Responses or Messages stream: its text, and its failure event if it ended in one."""
    text, error = "", None
    events = [event.json() async for event in aiter_events(response)]
    for event in events:
        if event["type"] in ("response.output_text.delta", "content_block_delta"):
            text += event["delta"] if isinstance(event["delta"], str) else event["delta"]["text"]
        if event["type"] == "response.failed":
            error = event["response"]["error"]
        if event["type"] == "error":
            error = {"code": event["error"]["type"], **event["error"]}
    ends = {"response.completed", "message_stop"}
    assert (events[-1]["type"] in ends) == (error is None), "an error never ends cleanly"
    return Seen(200, text, error)


async def _v1_chunks(response: httpx.Response) -> Seen:
    lines = [line[5:].strip() async for line in response.aiter_lines() if line.startswith("data:")]
    text, error = "", None
    for data in lines:
        if data != "[DONE]":
            chunk = json.loads(data)
            error = chunk.get("error", error)
            for choice in chunk.get("choices", []):
                text += choice["delta"].get("content") or ""
    assert (lines[-1] == "[DONE]") == (error is None), "an error never ends with [DONE]"
    return Seen(200, text, error)


SURFACES = [
    *((surface, streamed) for surface in ("v1", "chain") for streamed in (False, True)),
    ("responses", True), ("messages", True),
]  # fmt: skip


@pytest.mark.parametrize("fallback", [False, True], ids=["alone", "then-ok"])
@pytest.mark.parametrize(
    ("surface", "streamed"),
    SURFACES,
    ids=[f"{s}-{'streamed' if on else 'whole'}" for s, on in SURFACES],
)
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_provider_fault(platform, fault, surface, streamed, fallback):
    outcome = FAULTS[fault][streamed]
    model = f"{fault}-then-ok" if fallback else fault
    async with (
        platform.client(platform.key("acme")) as client,
        platform.client(platform.key("ops", admin=True)) as admin,
    ):
        client.headers["X-Request-Id"] = "matrix-case"
        seen = await ask(client, surface, streamed, model)
        [row] = (await client.get("/usage")).json()["records"]
        load = (await admin.get("/admin/tenants/acme/load")).json()

    continued = streamed and fallback and fault in CONTINUED
    answered = outcome is None or (outcome[0] == "before" and fallback) or continued
    if answered:
        assert (seen.status, seen.text, seen.error) == (200, HELLO, None)
        assert (row["status"], row["interrupted"]) == (200, False)
        assert row["continued"] is continued
        failed_over = fallback and outcome is not None and not continued
        served = [fault, "ok"] if continued else ["ok" if failed_over else fault]
        assert [name.split(":")[1].split("@")[0] for name in row["deployments"].split(",")] == (
            served
        )
    else:
        when, status, code = outcome
        assert seen.error is not None, seen
        assert seen.error["code"] == expected_code(surface, when, status, code), seen
        if "status_code" in seen.error:  # a chain's error event names the status
            assert seen.error["status_code"] == status
        if when == "mid":  # part of the answer arrived before the error
            assert seen.status == 200 and seen.text and HELLO.startswith(seen.text)
            assert row["output_tokens"] > 0
        # A chain's stream has begun (200) before its model is called; /v1 waits for content.
        began = when == "mid" or (surface == "chain" and streamed)
        assert seen.status == (200 if began else status)
        assert (row["status"], row["interrupted"]) == (status, began)
    assert row["client_request_id"] == "matrix-case"
    assert load["running"] == 0, "the tenant's concurrency slot was released"
    assert load["budget"]["reserved_usd"] == pytest.approx(0, abs=1e-12), "reservation settled"
    assert load["tokens_last_minute"] == row["input_tokens"] + row["output_tokens"]


async def test_a_silent_deployment_costs_one_deadline_not_one_per_retry(make_settings, upstream):
    """Retries share their deployment's first-token deadline: a silent one (with two retries
    configured) holds the answer up for one deadline (0.5 s), then the next one answers."""
    silent = {"provider": "openai-compatible", "model": "hang", "base_url": upstream,
              "max_retries": 2, "first_token_timeout": 0.5}  # fmt: skip
    working = {"provider": "openai-compatible", "model": "ok", "base_url": upstream}
    models = {"fallback": ModelSpec(deployments=[silent, working])}
    platform = Platform(create_app(make_settings(models=models, default_model="fallback")))
    async with platform.client() as client:
        started = time.monotonic()
        response = await client.post("/complete/invoke", json={"input": {"text": "Once"}})
        elapsed = time.monotonic() - started
    assert response.json()["output"] == HELLO
    assert 0.5 <= elapsed < 1.2, f"{elapsed:.2f} s: the deadline was spent more than once"
