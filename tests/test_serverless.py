"""The Lambda handler, invoked in process with API Gateway (HTTP API) and function URL events:
keys enforced, /v1 and a chain answered from a remote provider, errors in OpenAI's shape, the
ledger written before the invocation returns, and what cannot run on a function refused."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.serverless import LambdaPlatform, build_handler
from app.settings import ModelSpec, Settings
from app.storage.tables import UsageRow
from app.tenants.models import KeyCreate, TenantCreate
from tests.support.databases import fresh_postgres
from tests.support.redis_state import fresh_prefix, redis_or_skip

EVENTS = Path(__file__).parent / "support" / "lambda_events"
EVENT_KINDS = ["api_gateway_http_api", "function_url"]


def event(
    kind: str, method: str, path: str, body: Any = None, key: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """A recorded event of `kind`, made to carry this request."""
    recorded = copy.deepcopy(json.loads((EVENTS / f"{kind}.json").read_text()))
    recorded["rawPath"] = recorded["requestContext"]["http"]["path"] = path
    recorded["requestContext"]["http"]["method"] = method
    if key:
        recorded["headers"]["authorization"] = f"Bearer {key}"
    if body is not None:
        text = json.dumps(body)
        recorded["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
        recorded["isBase64Encoded"] = base64_body
    return recorded


class Lambda:
    """One Lambda instance: the handler and its invocations on a thread of their own, as the
    Lambda runtime runs them (Mangum makes that thread's event loop)."""

    def __init__(self, settings: Settings) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1)
        self.handler = self._thread.submit(build_handler, settings).result()

    def invoke(self, event: dict[str, Any]) -> tuple[int, Any]:
        response = self._thread.submit(self.handler, event, None).result()
        assert set(response) >= {"statusCode", "headers", "body"}
        return response["statusCode"], json.loads(response["body"])

    def key(self, tenant_id: str, **limits: Any) -> str:
        assert isinstance(self.handler, LambdaPlatform)
        tenants = self.handler.services.tenants
        tenants.create_tenant(TenantCreate(id=tenant_id, **limits))
        return tenants.create_key(tenant_id, KeyCreate(name="lambda")).key

    def ledger_rows(self) -> int:
        assert isinstance(self.handler, LambdaPlatform)
        with Session(self.handler.services.engine) as session:
            return session.scalar(select(func.count()).select_from(UsageRow)) or 0

    def close(self) -> None:
        """Stop the services on the instance's own loop (their HTTP pool lives there)."""
        if isinstance(self.handler, LambdaPlatform):
            stop = self.handler.services.stop
            self._thread.submit(
                lambda: asyncio.get_event_loop().run_until_complete(stop())
            ).result()
        self._thread.shutdown()


def _remote_settings(
    make_settings: Callable[..., Settings], upstream: str, **more: Any
) -> Settings:
    remote = ModelSpec(provider="openai-compatible", base_url=upstream, model="ok")
    return make_settings(
        auth_enabled=True, bootstrap_admin=False, models={"remote": remote},
        default_model="remote", **more,
    )  # fmt: skip


@pytest.fixture
def function(make_settings, upstream) -> Iterator[Lambda]:  # type: ignore[no-untyped-def]
    instance = Lambda(_remote_settings(make_settings, upstream))
    yield instance
    instance.close()


CHAT = {"model": "remote", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_request_without_a_valid_key_is_refused(function: Lambda, kind: str):
    status, body = function.invoke(event(kind, "POST", "/v1/chat/completions", CHAT))
    assert status == 401
    assert body["error"]["type"] == "authentication_error"
    status, _ = function.invoke(event(kind, "GET", "/v1/models", key="gp-0-not-a-key"))
    assert status == 401


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_v1_answers_and_its_ledger_row_is_written_before_the_invocation_returns(
    function: Lambda, kind: str
):
    key = function.key("acme")
    status, body = function.invoke(event(kind, "POST", "/v1/chat/completions", CHAT, key))
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] > 0
    assert function.ledger_rows() == 1


def test_a_base64_encoded_body_is_read(function: Lambda):
    key = function.key("acme")
    request = event("function_url", "POST", "/v1/chat/completions", CHAT, key, base64_body=True)
    status, body = function.invoke(request)
    assert (status, body["object"]) == (200, "chat.completion")


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_chain_answers(function: Lambda, kind: str):
    key = function.key("acme")
    request = event(kind, "POST", "/generate/invoke", {"input": {"prompt": "Say hi"}}, key)
    status, body = function.invoke(request)
    assert status == 200
    assert isinstance(body["output"], str) and body["output"]
    assert function.ledger_rows() == 1


def test_an_error_comes_back_in_openais_shape(function: Lambda):
    key = function.key("acme")
    unknown = {**CHAT, "model": "gpt-9"}
    status, body = function.invoke(
        event("api_gateway_http_api", "POST", "/v1/chat/completions", unknown, key)
    )
    assert status == 404
    assert body == {
        "error": {
            "message": body["error"]["message"],
            "type": "not_found_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert "gpt-9" in body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {**CHAT, "stream": True}, "stream"),
        ("/generate/stream", {"input": {"prompt": "Say hi"}}, None),
        ("/generate/c/N4XyA/stream_events", {"input": {"prompt": "Say hi"}}, None),
    ],
)
def test_a_stream_is_refused_with_what_to_do_instead(function: Lambda, path, body, param):
    key = function.key("acme")
    status, answer = function.invoke(event("function_url", "POST", path, body, key))
    assert status == 400
    assert (answer["error"]["code"], answer["error"]["param"]) == ("streaming_unavailable", param)
    assert "Lambda Web Adapter" in answer["error"]["message"]
    assert function.ledger_rows() == 0


@pytest.mark.parametrize(
    "spec",
    [
        {"provider": "local"},
        {
            "deployments": [  # a fallback on the embedded model needs it all the same
                {"provider": "openai-compatible", "model": "x", "base_url": "http://127.0.0.1:9"},
                {"provider": "local"},
            ]
        },
    ],
    ids=["alias", "fallback"],
)
def test_the_embedded_model_is_refused_naming_the_setting(make_settings, spec):
    instance = Lambda(make_settings(models={"local": ModelSpec(**spec)}))
    try:
        status, body = instance.invoke(event("function_url", "GET", "/v1/models"))
    finally:
        instance.close()
    assert status == 503
    assert (body["error"]["code"], body["error"]["param"]) == ("embedded_model_on_lambda", "models")
    assert "'local'" in body["error"]["message"]


def test_with_postgresql_and_redis_no_local_disk_is_needed(make_settings, upstream, tmp_path):
    instance = Lambda(_shared_state_settings(make_settings, upstream, tmp_path))
    try:
        key = instance.key("acme")
        status, _ = instance.invoke(
            event("function_url", "POST", "/v1/chat/completions", CHAT, key)
        )
    finally:
        instance.close()
    assert status == 200
    assert instance.ledger_rows() == 1


def _shared_state_settings(make_settings, upstream: str, tmp_path: Path) -> Settings:  # type: ignore[no-untyped-def]
    """PostgreSQL and Redis for state, and a data folder under a file: any write would fail."""
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    return _remote_settings(
        make_settings, upstream, data_dir=not_a_folder / "data", database_url=fresh_postgres(),
        redis_url=redis_or_skip(), redis_prefix=fresh_prefix(), secret_key="s" * 32,
    )  # fmt: skip


def test_instances_that_come_and_go_share_exact_limits_and_chat_sessions(
    make_settings, upstream, tmp_path
):
    """Two instances at once, then a third started after one stopped: a tenant's RPM of 3 is
    3 in all, and a chat session goes on whichever instance a turn reaches."""
    settings = _shared_state_settings(make_settings, upstream, tmp_path)
    first, second = Lambda(settings), Lambda(settings)
    key = first.key("acme", rpm=3)
    turn = {
        "input": {"messages": [{"role": "user", "content": "Hello"}]},
        "config": {"configurable": {"session_id": "s1"}},
    }
    try:
        statuses = [
            instance.invoke(event("function_url", "POST", "/chat/invoke", turn, key))[0]
            for instance in (first, second)
        ]
        history_status, history = second.invoke(
            event("function_url", "GET", "/chat/history", key=key)
            | {"rawQueryString": "session_id=s1"}
        )
    finally:
        first.close()
    third = Lambda(settings)  # a new instance, after another stopped
    try:
        statuses += [
            instance.invoke(
                event("api_gateway_http_api", "POST", "/v1/chat/completions", CHAT, key)
            )[0]
            for instance in (second, third)
        ]
        assert third.ledger_rows() == 3
    finally:
        second.close()
        third.close()
    assert statuses == [200, 200, 200, 429]
    assert history_status == 200
    assert [message["type"] for message in history["messages"]] == ["human", "ai", "human", "ai"]
