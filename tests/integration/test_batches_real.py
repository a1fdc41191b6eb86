"""Batches on the real platform (`genai serve`, the embedded models), through the openai SDK:
chat completions answered by SmolLM2 and embeddings by all-MiniLM-L6-v2, each line's answer
the same as the interactive call's, and its ledger row at the batch price."""

from __future__ import annotations

import io
import json
import time

import httpx
import openai
import pytest
from openai.types import Batch

from tests.integration.conftest import FAST

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture
def sdk(platform) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key, timeout=120)


def ended(sdk: openai.OpenAI, batch_id: str) -> Batch:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        batch = sdk.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} never ended")


def run(sdk: openai.OpenAI, endpoint: str, bodies: dict[str, dict]) -> tuple[str, dict[str, dict]]:
    """The batch's id, and its output lines by custom_id once it completed."""
    lines = "".join(json.dumps({"custom_id": custom_id, "method": "POST", "url": endpoint,
                                "body": body}) + "\n"
                    for custom_id, body in bodies.items())  # fmt: skip
    file = sdk.files.create(file=("in.jsonl", io.BytesIO(lines.encode())), purpose="batch")
    batch = sdk.batches.create(input_file_id=file.id, endpoint=endpoint,  # type: ignore[arg-type]
                               completion_window="24h")  # fmt: skip
    done = ended(sdk, batch.id)
    assert (done.status, done.request_counts.completed) == ("completed", len(bodies))
    assert done.output_file_id and done.error_file_id is None
    output = [json.loads(line) for line in sdk.files.content(done.output_file_id).text.splitlines()]
    return batch.id, {line["custom_id"]: line["response"] for line in output}


def test_a_chat_batch_on_the_embedded_model_answers_as_the_interactive_call(sdk, platform):
    asked = {"model": "local", "messages": QUESTION, **FAST}
    sdk.chat.completions.create(**asked)  # llama.cpp's cache: the same state for both below
    interactive = sdk.chat.completions.create(**asked)
    _, answers = run(sdk, "/v1/chat/completions", {"first": asked, "second": asked})
    for response in answers.values():
        assert response["status_code"] == 200
        text = response["body"]["choices"][0]["message"]["content"]
        assert text == interactive.choices[0].message.content and text.strip()
    row = platform.ledger_row(answers["first"]["request_id"])
    assert (row["custom_id"], row["model"], row["status"]) == ("first", "local", 200)
    assert (
        row["batch_id"]
        and row["output_tokens"] == answers["first"]["body"]["usage"]["completion_tokens"]
    )


def test_an_embeddings_batch_on_local_embed_returns_the_interactive_vectors(sdk, platform):
    texts = ["A man is playing a guitar.", "The stock market fell."]
    interactive = sdk.embeddings.create(model="local-embed", input=texts)
    batch_id, answers = run(
        sdk, "/v1/embeddings", {"both": {"model": "local-embed", "input": texts}}
    )
    data = answers["both"]["body"]["data"]
    assert [item["embedding"] for item in data] == [item.embedding for item in interactive.data]
    usage = httpx.get(f"{platform.url}/usage", params={"batch_id": batch_id},
                      headers=platform.headers).json()  # fmt: skip
    [row] = usage["records"]
    assert (row["custom_id"], row["input_tokens"]) == ("both", interactive.usage.prompt_tokens)
