"""Files and batches through the real openai SDK, on a real server over the fault upstream:
a batch's lines answered through the interactive path (a ledger row each, at the batch price),
its results in output and error files, and every hostile input answered as OpenAI answers it.

Aliases: "ok" answers at once, "brief" takes 0.3 s, "paced" 2 s, "broken" fails (500);
"priced" is "ok" at $1 per 1,000 input tokens and $2 per 1,000 output tokens.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import openai
import pytest
from openai.types import Batch
from sqlalchemy import update

from app.limits.admission import budget_period
from app.main import create_app
from app.settings import ModelSpec
from app.storage.tables import BatchRow
from app.usage.ledger import UsageFilter
from tests.support.servers import serving
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

CHAT = "/v1/chat/completions"
ANSWER = "fault upstream says hello"


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    models = fault_aliases(upstream, "ok", "brief", "paced", "broken")
    models["priced"] = models["ok"].model_copy(update={
        "input_price_per_million": 1000.0, "output_price_per_million": 2000.0,
    })  # fmt: skip
    settings = make_settings(auth_enabled=True, models=models, default_model="ok",
                             batch_poll_seconds=0.05, max_upload_bytes=400_000,
                             max_file_bytes=200_000, max_body_bytes=4096)  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    platform.tenant("rival")
    return platform


@pytest.fixture
def url(platform: Platform) -> Iterator[str]:
    with serving(platform.app) as base_url:
        yield base_url


def sdk_for(platform: Platform, url: str, tenant: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=platform.key(tenant), max_retries=0)


@pytest.fixture
async def sdk(platform: Platform, url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with sdk_for(platform, url, "acme") as sdk:
        yield sdk


@pytest.fixture
async def rival(platform: Platform, url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with sdk_for(platform, url, "rival") as sdk:
        yield sdk


@pytest.fixture
async def raw(platform: Platform, url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.key('acme')}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        yield client


def chat_line(custom_id: str, model: str = "ok", **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": CHAT,
            "body": {"model": model, "messages": [{"role": "user", "content": "Hi"}],
                     "max_tokens": 16, **body}}  # fmt: skip


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


async def upload(sdk: openai.AsyncOpenAI, content: bytes, name: str = "in.jsonl") -> str:
    return (await sdk.files.create(file=(name, io.BytesIO(content)), purpose="batch")).id


async def ended(sdk: openai.AsyncOpenAI, batch_id: str, seconds: float = 30) -> Batch:
    for _ in range(int(seconds / 0.05)):
        batch = await sdk.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} never ended: {batch.status}")


async def answered_some(sdk: openai.AsyncOpenAI, batch_id: str) -> None:
    """Until the batch's first lines are answered (the next ones are running)."""
    for _ in range(200):
        if (await sdk.batches.retrieve(batch_id)).request_counts.completed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch_id} answered nothing")


async def results(sdk: openai.AsyncOpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    """The lines of a result file, by custom_id (each custom_id once: asserted)."""
    if file_id is None:
        return {}
    text = (await sdk.files.content(file_id)).text
    lines = [json.loads(line) for line in text.splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(by_id) == len(lines), "a custom_id answered twice"
    return by_id


async def usage(raw: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await raw.get("/usage", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["records"]


async def run_batch(sdk: openai.AsyncOpenAI, lines: list[dict[str, Any]],
                    endpoint: str = CHAT) -> Batch:  # fmt: skip
    batch = await sdk.batches.create(input_file_id=await upload(sdk, jsonl(lines)),
                                     endpoint=endpoint, completion_window="24h")  # type: ignore[arg-type]  # fmt: skip
    return await ended(sdk, batch.id)


# --- files ----------------------------------------------------------------------------------


async def test_files_are_uploaded_listed_read_and_deleted_by_their_tenant_alone(sdk, rival):
    content = jsonl([chat_line("a")])
    created = await sdk.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    assert (created.bytes, created.purpose, created.filename) == (len(content), "batch",
                                                                   "in.jsonl")  # fmt: skip
    assert (await sdk.files.retrieve(created.id)).id == created.id
    assert (await sdk.files.content(created.id)).content == content
    second = await upload(sdk, b"{}\n", "second.jsonl")
    listed = [f.id async for f in sdk.files.list()]
    assert listed == [second, created.id], "newest first"
    page = await sdk.files.list(limit=1)
    assert [f.id for f in page.data] == [second] and page.has_more
    assert [f.id async for f in rival.files.list()] == []
    for call in (rival.files.retrieve, rival.files.content, rival.files.delete):
        with pytest.raises(openai.NotFoundError, match="No such file"):
            await call(created.id)
    assert (await sdk.files.delete(created.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await sdk.files.retrieve(created.id)
    assert [f.id async for f in sdk.files.list()] == [second]


async def test_a_filename_with_control_bytes_is_kept_with_them_made_plain(sdk, raw):
    """A raw form (clients percent-encode names; a hostile one need not): NUL and ESC in the
    part's filename would break a database's text or a terminal showing the list."""
    body = (b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="in\x00p\x1bt.jsonl"'
            b"\r\nContent-Type: application/jsonl\r\n\r\n{}\n\r\n--b--\r\n")  # fmt: skip
    form = {"Content-Type": "multipart/form-data; boundary=b"}
    answer = await raw.post("/v1/files", content=body, headers=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["filename"] == "in_p_t.jsonl"
    assert [f.filename async for f in sdk.files.list()] == ["in_p_t.jsonl"]


async def test_an_empty_file_and_one_over_max_file_bytes_are_refused_naming_the_field(sdk):
    with pytest.raises(openai.BadRequestError, match="is empty") as empty:
        await upload(sdk, b"")
    assert empty.value.body["param"] == "file"
    with pytest.raises(openai.APIStatusError, match="GENAI_MAX_FILE_BYTES") as large:
        await upload(sdk, b"x" * 200_001)
    assert (large.value.status_code, large.value.body["code"]) == (413, "file_too_large")
    with pytest.raises(openai.BadRequestError) as purpose:
        await sdk.files.create(file=("a.jsonl", io.BytesIO(b"{}")), purpose="nonsense")  # type: ignore[arg-type]
    assert purpose.value.body["param"] == "purpose"
    assert [f async for f in sdk.files.list()] == [], "nothing refused was kept"


# --- batches ---------------------------------------------------------------------------------


async def test_a_chat_batch_answers_each_line_with_a_ledger_row_at_the_batch_price(sdk, raw):
    lines = [chat_line(f"req-{n}", "priced") for n in range(5)]
    lines.append(chat_line("bad", "priced", temperature="hot"))
    lines.append(chat_line("down", "broken"))
    batch = await run_batch(sdk, lines)
    assert batch.status == "completed"
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (7, 5, 2)
    assert batch.completed_at and batch.in_progress_at and batch.finalizing_at
    output = await results(sdk, batch.output_file_id)
    assert sorted(output) == [f"req-{n}" for n in range(5)]
    answer = output["req-0"]["response"]
    assert answer["status_code"] == 200
    assert answer["body"]["choices"][0]["message"]["content"] == ANSWER
    errors = await results(sdk, batch.error_file_id)
    assert errors["bad"]["response"]["status_code"] == 400
    assert errors["bad"]["response"]["body"]["error"]["param"] == "temperature"
    assert errors["down"]["response"]["status_code"] == 502
    rows = await usage(raw, batch_id=batch.id)
    assert sorted(row["custom_id"] for row in rows) == ["down", *[f"req-{n}" for n in range(5)]]
    row = next(row for row in rows if row["custom_id"] == "req-0")
    full = (row["input_tokens"] * 1000 + row["output_tokens"] * 2000) / 1_000_000
    assert row["cost_usd"] == pytest.approx(full * 0.5), "half price: the default batch factor"
    assert answer["request_id"] == row["request_id"]
    assert (await usage(raw, batch_id="batch_other")) == []


async def test_an_embeddings_batch_and_a_responses_batch_answer_their_own_shapes(sdk):
    embed = {"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
             "body": {"model": "ok", "input": ["a", "b"]}}  # fmt: skip
    batch = await run_batch(sdk, [embed], "/v1/embeddings")
    body = (await results(sdk, batch.output_file_id))["e"]["response"]["body"]
    assert (body["object"], len(body["data"])) == ("list", 2)
    respond = {"custom_id": "r", "method": "POST", "url": "/v1/responses",
               "body": {"model": "ok", "input": "Hi"}}  # fmt: skip
    batch = await run_batch(sdk, [respond], "/v1/responses")
    body = (await results(sdk, batch.output_file_id))["r"]["response"]["body"]
    assert (body["object"], body["status"]) == ("response", "completed")
    kept = await sdk.responses.retrieve(body["id"])
    assert kept.output_text == ANSWER, "a batch's response is kept like any other"


async def test_batches_are_listed_newest_first_and_each_tenants_own(sdk, rival):
    first = await run_batch(sdk, [chat_line("a")])
    second = await run_batch(sdk, [chat_line("b")])
    assert [b.id async for b in sdk.batches.list()] == [second.id, first.id]
    page = await sdk.batches.list(limit=1)
    assert [b.id for b in page.data] == [second.id] and page.has_more
    assert [b.id async for b in sdk.batches.list(after=second.id)] == [first.id]
    assert [b async for b in rival.batches.list()] == []
    for call in (rival.batches.retrieve, rival.batches.cancel):
        with pytest.raises(openai.NotFoundError, match="No such batch"):
            await call(first.id)
    with pytest.raises(openai.NotFoundError, match="No such file") as other:
        await rival.batches.create(input_file_id=first.input_file_id, endpoint=CHAT,
                                   completion_window="24h")  # fmt: skip
    assert other.value.body["param"] == "input_file_id"
    with pytest.raises(openai.NotFoundError):
        await rival.files.content(first.output_file_id or "")


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        (b"not json\n", "invalid_json_line", 1),
        (jsonl([chat_line("a"), chat_line("a")]), "duplicate_custom_id", 2),
        (
            jsonl([chat_line("a"), {**chat_line("b"), "url": "/v1/embeddings"}]),
            "mismatched_endpoint",
            2,
        ),
        (
            jsonl([chat_line("a", messages=[{"role": "user", "content": "x" * 5000}])]),
            "line_too_large",
            1,
        ),
        (jsonl([chat_line("a", stream=True)]), "invalid_body", 1),
        (jsonl([{**chat_line("a"), "custom_id": 7}]), "invalid_custom_id", 1),
        (b"\xff\xfe\n", "invalid_file", None),
        (b"\n\n", "empty_file", None),
    ],
)
async def test_a_bad_input_file_fails_its_batch_with_errors_naming_the_line(sdk, raw, content,
                                                                           code, line):  # fmt: skip
    batch = await sdk.batches.create(input_file_id=await upload(sdk, content),
                                     endpoint=CHAT, completion_window="24h")  # fmt: skip
    assert batch.status == "failed" and batch.failed_at
    assert batch.errors and batch.errors.data
    error = batch.errors.data[0]
    assert (error.code, error.line) == (code, line)
    assert batch.request_counts.total == 0
    assert await usage(raw) == [], "nothing was run"


async def test_a_file_for_another_purpose_or_a_bad_request_is_refused_naming_the_field(sdk):
    other = (await sdk.files.create(file=("a.jsonl", io.BytesIO(jsonl([chat_line("a")]))),
                                    purpose="user_data")).id  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'") as purpose:
        await sdk.batches.create(input_file_id=other, endpoint=CHAT, completion_window="24h")
    assert purpose.value.body["param"] == "input_file_id"
    with pytest.raises(openai.BadRequestError) as window:
        await sdk.batches.create(input_file_id=other, endpoint=CHAT,
                                 completion_window="1h")  # type: ignore[arg-type]  # fmt: skip
    assert window.value.body["param"] == "completion_window"
    with pytest.raises(openai.BadRequestError) as endpoint:
        await sdk.batches.create(input_file_id=other, endpoint="/v1/images",  # type: ignore[arg-type]
                                 completion_window="24h")  # fmt: skip
    assert endpoint.value.body["param"] == "endpoint"


async def test_cancel_stops_a_batch_taking_lines_and_cancelling_again_answers_it(sdk):
    batch = await sdk.batches.create(
        input_file_id=await upload(sdk, jsonl([chat_line(f"r{n}", "brief") for n in range(20)])),
        endpoint=CHAT, completion_window="24h",
    )  # fmt: skip
    await answered_some(sdk, batch.id)
    cancelling = await sdk.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    again = await sdk.batches.cancel(batch.id)
    assert again.status in ("cancelling", "cancelled")
    cancelled = await ended(sdk, batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    answered = await results(sdk, cancelled.output_file_id)
    unanswered = await results(sdk, cancelled.error_file_id)
    assert len(answered) + len(unanswered) == 20, "every line reported once"
    assert 0 < len(answered) < 20, "the lines in flight ended; the rest never ran"
    assert all(line["error"]["code"] == "batch_cancelled" for line in unanswered.values())
    assert (await sdk.batches.cancel(batch.id)).status == "cancelled"
    done = await run_batch(sdk, [chat_line("a")])
    with pytest.raises(openai.ConflictError, match="only a batch in progress"):
        await sdk.batches.cancel(done.id)


async def test_a_batch_goes_on_when_its_input_file_is_deleted(sdk):
    file_id = await upload(sdk, jsonl([chat_line(f"r{n}", "brief") for n in range(3)]))
    batch = await sdk.batches.create(input_file_id=file_id, endpoint=CHAT,
                                     completion_window="24h")  # fmt: skip
    await sdk.files.delete(file_id)
    done = await ended(sdk, batch.id)
    assert (done.status, done.request_counts.completed) == ("completed", 3)


async def test_a_batch_past_its_window_expires_keeping_the_results_it_has(platform, sdk):
    batch = await sdk.batches.create(
        input_file_id=await upload(sdk, jsonl([chat_line(f"r{n}", "brief") for n in range(12)])),
        endpoint=CHAT, completion_window="24h",
    )  # fmt: skip
    await answered_some(sdk, batch.id)
    with platform.services.engine.begin() as connection:  # its 24 hours are up
        connection.execute(update(BatchRow).where(BatchRow.id == batch.id).values(expires_at=0))
    expired = await ended(sdk, batch.id)
    assert expired.status == "expired" and expired.expired_at
    answered = await results(sdk, expired.output_file_id)
    unanswered = await results(sdk, expired.error_file_id)
    assert answered and len(answered) + len(unanswered) == 12
    assert {line["error"]["code"] for line in unanswered.values()} == {"batch_expired"}


async def test_a_batch_over_budget_stops_and_reports_the_lines_not_run(platform, url):
    platform.tenant("thrifty", budget_usd=0.3)
    async with sdk_for(platform, url, "thrifty") as sdk:
        batch = await run_batch(sdk, [chat_line(f"r{n}", "priced") for n in range(40)])
        answered = await results(sdk, batch.output_file_id)
        unanswered = await results(sdk, batch.error_file_id)
    assert batch.status == "failed"
    assert batch.errors and batch.errors.data[0].code == "budget_exceeded"
    assert answered, "lines ran until the budget was spent"
    assert len(answered) + len(unanswered) == 40
    assert {line["error"]["code"] for line in unanswered.values()} == {"budget_exceeded"}
    spent = platform.services.ledger.spent("thrifty", *budget_period("month", datetime.now(UTC)))
    assert spent <= 0.3 + 1e-9, "the budget holds: a line is reserved for before it runs"


async def test_a_batch_leaves_its_tenant_half_its_concurrency_for_interactive_calls(platform, url):
    """With nothing else in flight the replica runs up to 4 lines at once: a naive batch holds
    both of the tenant's 2 slots, refusing its next interactive call (429). Held to half, it
    leaves one free for it."""
    platform.tenant("pair", max_concurrent=2)
    async with sdk_for(platform, url, "pair") as sdk:
        batch = await sdk.batches.create(
            input_file_id=await upload(sdk, jsonl([chat_line(f"r{n}", "paced") for n in range(2)])),
            endpoint=CHAT, completion_window="24h",
        )  # fmt: skip
        await asyncio.sleep(0.3)  # nothing in flight: the runner takes what it may (2 s each)
        reply = await sdk.chat.completions.create(
            model="brief", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
        )
        assert reply.choices[0].message.content == ANSWER, "never refused for the batch"
        assert (await ended(sdk, batch.id)).request_counts.completed == 2


async def test_a_thousand_line_batch_completes_with_exactly_a_thousand_ledger_rows(platform, sdk):
    batch = await run_batch(sdk, [chat_line(f"r{n}") for n in range(1000)])
    assert (batch.status, batch.request_counts.completed) == ("completed", 1000)
    assert len(await results(sdk, batch.output_file_id)) == 1000
    assert platform.services.ledger.totals(UsageFilter(batch_id=batch.id))["requests"] == 1000


async def test_metrics_count_a_tenants_batch_lines_and_its_queue(platform, sdk):
    await run_batch(sdk, [chat_line("a"), chat_line("b", "broken")])
    async with platform.client(platform.services.local_admin_key) as admin:
        text = (await admin.get("/metrics")).text
    assert 'genai_batch_lines_total{outcome="done",tenant="acme"} 1.0' in text
    assert 'genai_batch_lines_total{outcome="failed",tenant="acme"} 1.0' in text
    assert 'genai_batch_queue_depth{tenant="acme"} 0.0' in text


def test_batch_price_factor_is_validated_naming_the_key(make_settings):
    with pytest.raises(ValueError, match="batch_price_factor"):
        make_settings(models={"x": ModelSpec(provider="local", batch_price_factor=2)})


async def test_a_batch_gives_way_while_the_replica_serves_interactive_calls(sdk):
    """While an interactive call runs, the replica starts one line per poll (0.05 s here),
    whatever the lines cost; once none runs, the batch goes at full speed."""
    interactive = asyncio.create_task(sdk.chat.completions.create(
        model="paced", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
    ))  # fmt: skip
    await asyncio.sleep(0.2)  # admitted: it answers in 2 s
    batch = await sdk.batches.create(
        input_file_id=await upload(sdk, jsonl([chat_line(f"r{n}") for n in range(300)])),
        endpoint=CHAT, completion_window="24h",
    )  # fmt: skip
    await asyncio.sleep(1.0)
    during = (await sdk.batches.retrieve(batch.id)).request_counts.completed
    assert during <= 1.0 / 0.05 + 5, f"{during} lines in 1 s beside an interactive call"
    assert (await interactive).choices[0].message.content == ANSWER
    done = await ended(sdk, batch.id)
    assert done.request_counts.completed == 300
