"""/code: the model's code is checked by the language's parser and repaired from its complaint,
up to three replies; the last one allowed streams. A scripted model plays the model here (the
real one: tests/integration/test_code_real.py).
"""

from __future__ import annotations

import pytest

from app.main import create_app
from chains.code import CHECKS, FencedCode, code_of, diagnose
from tests.support.echo_upstream import EchoUpstream, echo_model, echo_services
from tests.support.sse import read_events
from tests.support.tenancy import Platform

BROKEN = "Sure:\n```python\ndef add(a, b:\n    return a + b\n```\nHope it helps."
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"
TASK = {"task": "A function add(a, b) returning their sum.", "language": "python"}


@pytest.fixture
def platform_with(make_settings):  # type: ignore[no-untyped-def]
    """A platform whose model replies with the given replies, in turn."""

    def make(*replies: str) -> tuple[Platform, EchoUpstream]:
        model = EchoUpstream(replies=list(replies))
        settings = make_settings(models={"local": echo_model("local")})
        return Platform(create_app(services=echo_services(settings, model))), model

    return make


async def run(platform: Platform, body: dict) -> dict:
    async with platform.client() as client:
        response = await client.post("/code/invoke", json={"input": body})
        assert response.status_code == 200, response.text
        return response.json()["output"]


async def only_row(platform: Platform) -> dict:
    async with platform.client() as client:
        [row] = (await client.get("/usage")).json()["records"]
    return row


async def test_a_rejected_attempt_is_repaired_from_the_parsers_complaint(platform_with):
    platform, model = platform_with(BROKEN, FIXED)
    output = await run(platform, TASK)
    assert output == {"code": "def add(a, b):\n    return a + b\n", "language": "python",
                      "valid": True, "attempts": 2, "diagnostics": []}  # fmt: skip
    repair = model.prompts[1][-1]["content"]
    assert "def add(a, b:" in repair, "the model is shown its last attempt"
    assert "line 1, column 8: '(' was never closed" in repair, "and the parser's complaint"
    row = await only_row(platform)
    assert (row["status"], row["prompt"]) == (200, "code@1")
    replies = [BROKEN, FIXED]
    assert row["output_tokens"] == sum(len(reply.split()) for reply in replies), "both billed"


async def test_after_the_last_attempt_the_code_comes_back_with_what_is_wrong(platform_with):
    platform, model = platform_with(BROKEN)
    output = await run(platform, TASK)
    assert (output["valid"], output["attempts"]) == (False, 3)
    assert output["diagnostics"] == ["line 1, column 8: '(' was never closed"]
    assert len(model.prompts) == 3


async def test_the_last_attempt_streams_its_code_as_it_is_written(platform_with):
    platform, _ = platform_with(BROKEN, BROKEN, FIXED)
    async with platform.client() as client:
        events = await read_events(client, "/code/stream", {"input": TASK})
    chunks = [event.json() for event in events if event.event == "data"]
    pieces = [chunk["code"] for chunk in chunks if "code" in chunk]
    assert len(pieces) > 3, "streamed in pieces"
    assert "".join(pieces) == "def add(a, b):\n    return a + b\n"
    assert chunks[-1] == {"language": "python", "valid": True, "attempts": 3, "diagnostics": []}
    assert events[-1].event == "end"


async def test_an_earlier_passing_attempt_is_sent_whole_on_stream(platform_with):
    platform, _ = platform_with(FIXED)
    async with platform.client() as client:
        events = await read_events(client, "/code/stream", {"input": TASK})
    chunks = [event.json() for event in events if event.event == "data"]
    assert chunks[0] == {"code": "def add(a, b):\n    return a + b\n"}
    assert chunks[-1]["attempts"] == 1


async def test_a_language_it_cannot_check_is_refused_naming_the_field(platform_with):
    platform, model = platform_with(FIXED)
    async with platform.client() as client:
        response = await client.post("/code/invoke", json={"input": {**TASK, "language": "cobol"}})
    assert response.status_code == 422 and response.json()["error"]["param"] == "language"
    assert model.prompts == []


CASES = {
    "python": ("x = [1, 2]\n", "x = [1, 2\n"),
    "json": ('{"a": 1}', '{"a": 1,}'),
    "sql": ("SELECT a FROM t WHERE a > 1", "SELECT a FROM t WHERE"),
    "yaml": ("a: [1, 2]\n", "a: [1, 2\n"),
    "toml": ('a = "b"\n', "a = \n"),
}


@pytest.mark.parametrize("language", CASES)
def test_each_languages_parser_accepts_good_code_and_names_what_is_wrong(language):
    good, bad = CASES[language]
    assert diagnose(language, good) == []
    [complaint] = diagnose(language, bad)
    assert complaint


def test_every_language_the_input_allows_has_a_parser():
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (FIXED, "def add(a, b):\n    return a + b\n"),
        (BROKEN, "def add(a, b:\n    return a + b\n"),
        ("x = 1", "x = 1"),
        ("```\nx = 1\n```", "x = 1\n"),
        ("```python\nx = 1", "x = 1"),  # cut off before its closing fence
    ],
)
def test_the_code_is_read_alike_whole_and_in_any_pieces(reply, code):
    assert code_of(reply) == code
    for size in (1, 2, 3, 7):
        reader = FencedCode()
        read = "".join(reader.feed(reply[i : i + size]) for i in range(0, len(reply), size))
        assert read + reader.end() == code
