"""The official openai SDK and LangChain's ChatOpenAI against the platform's /v1, real model."""

from __future__ import annotations

from typing import Literal

import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

pytestmark = pytest.mark.model

MESSAGES = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def sdk(platform) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key, timeout=120)


def test_models_lists_the_embedded_models(sdk: openai.OpenAI):
    assert [model.id for model in sdk.models.list().data] == ["local", "local-embed"]


def test_chat_plain_and_streamed_agree_and_usage_is_exact(sdk: openai.OpenAI):
    # llama.cpp reuses the cache of the request before, whose length changes its arithmetic
    # slightly: the same request first, so the two compared below start from the same state.
    # Each a call to the model (no-store): what is compared is the model's answers.
    model = {"model": "local", "messages": MESSAGES, "max_tokens": 12, "temperature": 0,
             "extra_headers": {"Cache-Control": "no-store"}}  # fmt: skip
    sdk.chat.completions.create(**model)
    plain = sdk.chat.completions.create(**model)
    stream = sdk.chat.completions.create(
        **model, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content and text.strip()
    # llama.cpp reports usage only without streaming; ours, counted, must be the same numbers.
    counted, reported = chunks[-1].usage, plain.usage
    assert (counted.prompt_tokens, counted.completion_tokens) == (
        reported.prompt_tokens,
        reported.completion_tokens,
    )
    assert reported.completion_tokens == 12


def test_legacy_completion(sdk: openai.OpenAI):
    completion = sdk.completions.create(
        model="local", prompt="The capital of France is", max_tokens=6, temperature=0
    )
    assert completion.choices[0].text.strip()
    assert completion.usage.completion_tokens == 6


def test_errors_raise_the_sdks_exceptions(sdk: openai.OpenAI, platform):
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{platform.url}/v1", api_key="nope").models.list()


async def test_langchain_chat_openai_against_the_platform(platform):
    model = ChatOpenAI(
        base_url=f"{platform.url}/v1", api_key=platform.admin_key, model="local",
        max_tokens=8, temperature=0,
    )  # fmt: skip
    assert (await model.ainvoke("Say hello.")).content.strip()
    assert "".join([chunk.content async for chunk in model.astream("Say hello.")]).strip()


def test_a_list_of_prompts_is_a_400_naming_prompt_as_llama_cpp_takes_one(sdk):
    """llama.cpp's server asserts a single prompt (a 500, which was a 502 here)."""
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.completions.create(model="local", prompt=["Once", "Twice"], max_tokens=3)
    assert (refused.value.code, refused.value.param) == ("too_many_prompts", "prompt")
    one = sdk.completions.create(model="local", prompt=["Once upon a"], max_tokens=3)
    assert len(one.choices) == 1


async def test_a_prompt_longer_than_the_context_is_a_400_naming_it(sdk, platform):
    """llama.cpp refuses one for a whole answer but sends an empty stream instead: the platform
    refuses it itself, streamed or not, in OpenAI's words; /chat (which always streams from
    the model) answers the same 400."""
    too_long = "word " * 3000
    messages = [{"role": "user", "content": too_long}]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.chat.completions.create(
                model="local", messages=messages, max_completion_tokens=5, stream=stream
            )
        assert (refused.value.code, refused.value.param) == ("context_length_exceeded", "messages")
    chat = {"input": {"messages": [{"type": "human", "content": too_long}]},
            "config": {"configurable": {"session_id": "too-long"}}}  # fmt: skip
    async with platform.client() as client:
        response = await client.post("/chat/invoke", json=chat)
        history = await client.get("/chat/history", params={"session_id": "too-long"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert history.status_code == 404  # a refused turn is not kept as an empty reply


class Colour(BaseModel):
    """What the model must answer: the schema llama.cpp's grammar holds it to."""

    colour: Literal["red", "green", "blue"]
    bright: bool


def test_parse_with_a_pydantic_model_returns_a_parsed_object(sdk: openai.OpenAI):
    """The SDK sends `json_schema`; the platform hands llama.cpp the schema as it takes it, and
    its grammar makes the answer valid for it: the SDK parses it into the model."""
    reply = sdk.chat.completions.parse(
        model="local", response_format=Colour, max_tokens=40, temperature=0,
        messages=[{"role": "user", "content": "Pick a colour of the sky and say if it is bright."}],
    )  # fmt: skip
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Colour), reply.choices[0].message.content
    assert reply.usage.completion_tokens > 0


def test_the_served_embedding_model_answers_and_the_ledger_counts_its_tokens(sdk, platform):
    """`make run`'s own configuration: `local-embed` answers the SDK (base64, its default); its
    own row (by request id: other tests share this platform) counts the tokens."""
    raw = sdk.embeddings.with_raw_response.create(
        model="local-embed", input=["A kite", "A red kite flies"]
    )
    answer = raw.parse()
    assert [len(item.embedding) for item in answer.data] == [384, 384]
    row = platform.ledger_row(raw.headers["x-request-id"])
    assert row["input_tokens"] == answer.usage.prompt_tokens > 0
    assert (row["output_tokens"], row["token_source"], row["status"]) == (0, "provider", 200)
