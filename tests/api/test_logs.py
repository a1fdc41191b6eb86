"""One JSON line per request on stdout: request id, tenant, tokens; no key, no prompt text."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator

import pytest

from app.observability.logs import logging_config
from tests.support.tenancy import PRICED_MODELS, Platform, build_platform, sign_in

PROMPT = "the-prompt-nobody-may-log"


def configure(log_format: str) -> io.StringIO:
    """Logging as `genai serve` sets it up, its stdout handler writing to a buffer instead."""
    logging.config.dictConfig(logging_config("info", log_format))
    buffer = io.StringIO()
    logging.getLogger("app").handlers[0].setStream(buffer)
    return buffer


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """The JSON format's lines, parsed (each must be one JSON object)."""
    buffer = configure("json")
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    for name in ("app", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()


async def _requests(platform: Platform) -> str:
    platform.tenant("acme")
    key = platform.key("acme")
    async with platform.client(key) as client:
        response = await client.post(
            "/generate/invoke",
            json={"input": {"prompt": PROMPT}},
            headers={"X-Request-Id": "req-logged"},
        )
        assert response.status_code == 200
    async with platform.client(key + "0") as wrong:
        assert (
            await wrong.get("/usage", headers={"X-Request-Id": "req-refused"})
        ).status_code == 401
    async with platform.client() as browser:
        await sign_in(browser, key, **{"X-Request-Id": "req-signin"})
    await platform.services.metering.drain()
    return key


async def test_each_request_is_one_json_line_with_its_fields_and_no_secrets(
    make_settings, log_lines
):
    platform = build_platform(make_settings(auth_enabled=True, models=PRICED_MODELS))
    key = await _requests(platform)
    lines = log_lines()
    by_id = {line.get("client_request_id"): line for line in lines if "request_id" in line}
    served = by_id["req-logged"]
    assert served["tenant"] == "acme" and served["route"] == "generate"
    assert served["model"] == "local" and served["status"] == 200
    assert served["input_tokens"] > 0 and served["output_tokens"] > 0
    assert served["latency_ms"] > 0 and "ttft_ms" in served
    assert served["level"] == "INFO" and "time" in served
    assert by_id["req-refused"]["status"] == 401
    assert by_id["req-signin"]["route"] == "/signin"
    assert [line.get("client_request_id") for line in lines].count("req-logged") == 1
    assert len(served["request_id"]) == 32  # the platform's own id, the ledger row's key
    everything = json.dumps(lines)
    assert PROMPT not in everything
    assert key.rsplit("-", 1)[1] not in everything  # the key's secret part


async def test_prompt_text_is_logged_only_when_the_setting_says_so(make_settings, log_lines):
    settings = make_settings(auth_enabled=True, models=PRICED_MODELS, log_prompts=True)
    await _requests(build_platform(settings))
    served = next(line for line in log_lines() if line.get("client_request_id") == "req-logged")
    assert PROMPT in served["prompt"] and served["completion"]


def test_the_text_format_is_readable_key_value_pairs():
    buffer = configure("text")
    try:
        logging.getLogger("app.requests").info(
            "generate 200", extra={"request": {"tenant": "acme", "status": 200, "ttft_ms": None}}
        )
    finally:
        logging.getLogger("app").handlers.clear()
    assert buffer.getvalue() == "INFO:     generate 200 tenant=acme status=200\n"
