"""The failover loop, in process: each test scripts what every deployment answers, call by call
(tests/support/scripted_upstream.py), and reads what the dispatcher returns, what it raised,
and what each deployment was sent."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import PlatformError
from app.providers import CircuitBreakers, Dispatcher
from app.providers.accounting import CallAccount
from app.providers.http import HttpPool
from app.settings import ModelSpec
from tests.support.scripted_upstream import Script, answer, silent, status, stream

BODY = {"messages": [{"role": "user", "content": "Say hello."}]}


def alias(*models: str, **deployment: Any) -> ModelSpec:
    fields = {"provider": "openai-compatible", "base_url": "http://scripted/v1", **deployment}
    return ModelSpec(deployments=[{**fields, "model": model} for model in models])


def dispatcher(script: Script, spec: ModelSpec, breakers: CircuitBreakers | None = None):  # type: ignore[no-untyped-def]
    http = HttpPool(transport=script.transport)
    return Dispatcher({"m": spec}, http, breakers or CircuitBreakers(), None)


def account() -> CallAccount:
    return CallAccount("acme", "req-1")


def text_of(answer) -> str:  # type: ignore[no-untyped-def]
    return answer.data["choices"][0]["message"]["content"]


async def streamed(dispatcher: Dispatcher, charged: CallAccount) -> str:
    stream = await dispatcher.stream("m", "chat/completions", {**BODY, "stream": True},
                                     account=charged)  # fmt: skip
    try:
        return "".join([
            chunk["choices"][0]["delta"].get("content") or ""
            async for chunk in stream
            if chunk["choices"]
        ])  # fmt: skip
    finally:
        stream.close()


async def test_a_failure_a_retry_may_cure_is_retried_on_the_same_deployment():
    script = Script(a=[status(503), answer("Hello")], b=[answer("from b")])
    found = dispatcher(script, alias("a", "b", max_retries=1))
    reply = await found.complete("m", "chat/completions", BODY, account=account())
    assert text_of(reply) == "Hello"
    assert [model for model, _ in script.calls] == ["a", "a"]


async def test_a_refusal_is_not_retried_and_is_what_the_client_hears_over_later_failures():
    """A refusal may be the deployment's own (a smaller context): the next one is asked, and
    when none answers, the refusal tells the client more than a 502 would."""
    script = Script(a=[status(400)], b=[status(503)])
    found = dispatcher(script, alias("a", "b", max_retries=0))
    with pytest.raises(PlatformError) as refused:
        await found.complete("m", "chat/completions", BODY, account=account())
    assert refused.value.status_code == 400
    assert [model for model, _ in script.calls] == ["a", "b"]


async def test_a_deployment_silent_past_its_deadline_gives_way_to_the_next():
    script = Script(a=[silent()], b=[answer("from b")])
    spec = alias("a", "b", first_token_timeout=0.05, max_retries=0)
    charged = account()
    reply = await dispatcher(script, spec).complete("m", "chat/completions", BODY, account=charged)
    assert text_of(reply) == "from b"
    assert [call.deployment for call in charged.calls] == [d.name for d in spec.deployments]


async def test_when_no_deployment_answers_the_client_hears_the_last_failure():
    script = Script(a=[status(503)], b=[status(500)])
    found = dispatcher(script, alias("a", "b", max_retries=0))
    with pytest.raises(PlatformError) as failed:
        await found.complete("m", "chat/completions", BODY, account=account())
    assert (failed.value.status_code, failed.value.code) == (502, "provider_failed")


async def test_a_stream_cut_mid_answer_is_continued_by_the_next_deployment():
    script = Script(a=[stream("Hel", "lo ", end="cut")], b=[stream("world")])
    found = dispatcher(script, alias("a", "b", max_retries=0))
    charged = account()
    assert await streamed(found, charged) == "Hello world"
    [continued] = script.sent_to("b")
    assert "Hello " in str(continued["messages"]), "the next one is shown the partial answer"
    assert [call.role for call in charged.calls] == ["answer", "continuation"]


async def test_a_stream_cut_with_no_deployment_left_fails_mid_answer_never_ending_clean():
    script = Script(a=[stream("Hel", end="cut")])
    found = dispatcher(script, alias("a", max_retries=0))
    with pytest.raises(PlatformError) as failed:
        await streamed(found, account())
    assert failed.value.code == "provider_cut"


async def test_an_open_circuit_is_skipped_until_it_cools_down():
    now = [0.0]
    breakers = CircuitBreakers(threshold=2, cooldown=30.0, clock=lambda: now[0])
    script = Script(a=[status(503)], b=[answer("from b")])
    found = dispatcher(script, alias("a", "b", max_retries=0), breakers)
    for _ in range(2):  # two failures that count (a 503: the deployment's) open a's circuit
        await found.complete("m", "chat/completions", BODY, account=account())
    assert len(script.sent_to("a")) == 2
    await found.complete("m", "chat/completions", BODY, account=account())
    assert len(script.sent_to("a")) == 2, "the open circuit is not asked"
    now[0] = 31.0  # cooled down: one trial call goes through
    await found.complete("m", "chat/completions", BODY, account=account())
    assert len(script.sent_to("a")) == 3
