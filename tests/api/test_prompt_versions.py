"""Versions of a prompt kept side by side: the newest by default, one pinned per request, or a
weighted trial between them; the ledger row and the log line name the version that ran, and
/usage compares the versions.

The prompts folder is the project's plus `generate@2.yaml`, whose system message differs; the
echo model replies with the prompt it was given, so a reply shows which version ran.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from app.settings import PROJECT_ROOT
from app.use_cases.prompts import PromptFileError
from app.use_cases.versions import load_prompt_versions
from tests.api.test_logs import log_lines  # noqa: F401  (the fixture)
from tests.support.sse import read_events
from tests.support.tenancy import Platform, build_platform

V1 = "You are a helpful assistant."
V2 = "You are a terse assistant."


def prompts_with_a_second_version(folder: Path, weights: tuple[float, float] | None) -> Path:
    shutil.copytree(PROJECT_ROOT / "prompts", folder)
    first = yaml.safe_load((folder / "generate.yaml").read_text())
    second = {**first, "version": 2}
    second["messages"] = [{"role": "system", "template": V2},
                          {"role": "human", "template": "{{ prompt }}"}]  # fmt: skip
    if weights is not None:
        first["weight"], second["weight"] = weights
        (folder / "generate.yaml").write_text(yaml.safe_dump(first))
    (folder / "generate@2.yaml").write_text(yaml.safe_dump(second))
    return folder


@pytest.fixture
def make_platform(make_settings, tmp_path) -> Callable[..., Platform]:
    def make(weights: tuple[float, float] | None = None) -> Platform:
        folder = prompts_with_a_second_version(tmp_path / f"prompts-{weights}", weights)
        return build_platform(make_settings(prompts_dir=folder))

    return make


async def generate(platform: Platform, **configurable: object) -> tuple[int, str]:
    body = {"input": {"prompt": "Hi"}, "config": {"configurable": configurable}}
    async with platform.client() as client:
        response = await client.post("/generate/invoke", json=body)
    return response.status_code, response.json().get("output", response.text)


async def rows(platform: Platform, **params: str) -> dict:
    async with platform.client() as client:
        return (await client.get("/usage", params=params)).json()


async def test_the_newest_version_runs_unless_one_is_pinned(make_platform):
    platform = make_platform()
    assert V2 in (await generate(platform))[1]
    assert V1 in (await generate(platform, prompt_version=1))[1]
    prompts = [row["prompt"] for row in (await rows(platform))["records"]]
    assert prompts == ["generate@2", "generate@1"]


async def test_an_unknown_version_is_refused_naming_the_field(make_platform):
    platform = make_platform()
    status, body = await generate(platform, prompt_version=7)
    assert status == 422 and "configurable.prompt_version" in body and "1 or 2" in body
    assert (await rows(platform))["records"] == [], "refused before anything ran"


async def test_a_trial_splits_requests_by_the_files_weights_and_usage_compares_them(
    make_platform,
):
    platform = make_platform(weights=(50, 50))
    ran = Counter([V2 in (await generate(platform))[1] for _ in range(200)])
    assert 60 <= ran[True] <= 140, ran  # 50% of 200: far outside these bounds is a broken draw
    by_prompt = (await rows(platform, group_by="prompt"))["by_prompt"]
    assert [group["prompt"] for group in by_prompt] == ["generate@1", "generate@2"]
    assert [group["requests"] for group in by_prompt] == [ran[False], ran[True]]
    assert all(group["failed"] == 0 and group["output_tokens"] > 0 for group in by_prompt)


async def test_the_stream_routes_run_the_version_the_row_names(make_platform):
    """Weights 100/0: every unpinned request gets version 1, though version 2 is the newest;
    LangServe's own stream_events route must run the drawn version too."""
    platform = make_platform(weights=(100, 0))
    async with platform.client() as client:
        streamed = await read_events(client, "/generate/stream", {"input": {"prompt": "Hi"}})
        logged = await read_events(client, "/generate/stream_events",
                                   {"input": {"prompt": "Hi"}, "version": "v2"})  # fmt: skip
    text = "".join(event.json() for event in streamed if event.event == "data")
    assert V1 in text
    assert V1 in json.dumps([event.data for event in logged]) and V2 not in json.dumps(
        [event.data for event in logged]
    )
    assert [row["prompt"] for row in (await rows(platform))["records"]] == ["generate@1"] * 2


async def test_a_batch_names_every_version_it_ran(make_platform):
    platform = make_platform()
    body = {"inputs": [{"prompt": "a"}, {"prompt": "b"}],
            "config": [{"configurable": {"prompt_version": 1}}, {}]}  # fmt: skip
    async with platform.client() as client:
        outputs = (await client.post("/generate/batch", json=body)).json()["output"]
    assert V1 in outputs[0] and V2 in outputs[1]
    [row] = (await rows(platform))["records"]
    assert row["prompt"] == "generate@1,generate@2"


async def test_the_log_line_names_the_prompt_version(make_platform, log_lines):  # noqa: F811
    platform = make_platform()
    await generate(platform, prompt_version=1)
    [line] = [line for line in log_lines() if line.get("route") == "generate"]
    assert line["prompt"] == "generate@1"


def test_a_version_file_must_hold_the_version_its_name_says(tmp_path):
    folder = prompts_with_a_second_version(tmp_path / "prompts", None)
    (folder / "generate@3.yaml").write_text((folder / "generate@2.yaml").read_text())
    with pytest.raises(PromptFileError, match="version 2 differs"):
        load_prompt_versions(folder, "generate")
