"""An answer cut short by a remote deployment is continued by the real embedded model.

The alias's first deployment is our fault upstream's `drop` (3 words, then the connection is
cut); the second is SmolLM2 in llama.cpp, asked with the platform's continuation instruction.
What the model writes cannot be known in advance, so the test checks the seam: the client's
text begins with the cut part, goes on past it, and ends as a whole answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
import yaml

from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.fault_upstream import running_fault_upstream

pytestmark = pytest.mark.model

CUT = "fault upstream says "


@pytest.fixture(scope="module")
def continuing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    folder = tmp_path_factory.mktemp("continuation")
    with running_fault_upstream() as upstream:
        drop = {"provider": "openai-compatible", "base_url": upstream, "model": "drop",
                "max_retries": 0}  # fmt: skip
        models = {"local": {"provider": "local"},
                  "cut": {"deployments": [drop, {"provider": "local"}]}}  # fmt: skip
        config = folder / "config.yaml"
        config.write_text(yaml.safe_dump({"models": models, "default_model": "local"}))
        with platform_process(folder / "data", GENAI_CONFIG_FILE=str(config)) as running:
            yield running


def test_the_embedded_model_continues_an_answer_a_remote_deployment_cut(continuing):
    sdk = openai.OpenAI(base_url=f"{continuing.url}/v1", api_key=continuing.admin_key)
    stream = sdk.chat.completions.create(
        model="cut", messages=[{"role": "user", "content": "Say hello to the world."}],
        max_tokens=24, temperature=0, stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(CUT) and len(text.strip()) > len(CUT.strip()), text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    usage = chunks[-1].usage
    ledger = httpx.get(f"{continuing.url}/usage", headers=continuing.headers, timeout=30)
    [row] = ledger.json()["records"]
    assert (row["status"], row["continued"]) == (200, True)
    assert [name.split(":")[0] for name in row["deployments"].split(",")] == [
        "openai-compatible", "local",
    ]  # fmt: skip
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        row["input_tokens"], row["output_tokens"],
    ), "the client is told what the ledger bills: both calls"  # fmt: skip
