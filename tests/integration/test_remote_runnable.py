"""LangServe's Python client, RemoteRunnable, against every route of the real platform."""

from __future__ import annotations

import pytest
from langserve import RemoteRunnable

from tests.integration.conftest import FAST
from tests.integration.test_real_model import INPUTS, ROUTES

pytestmark = pytest.mark.model


@pytest.mark.parametrize("route", ROUTES)
async def test_remote_runnable_invokes_every_route(platform, route: str):
    remote = RemoteRunnable(f"{platform.url}/{route}", timeout=120, headers=platform.headers)
    output = await remote.ainvoke(INPUTS[route], config={"configurable": FAST})
    assert isinstance(output, str) and output.strip()


@pytest.mark.parametrize("route", ROUTES)
async def test_remote_runnable_streams_every_route(platform, route: str):
    remote = RemoteRunnable(f"{platform.url}/{route}", timeout=120, headers=platform.headers)
    chunks = [chunk async for chunk in remote.astream(INPUTS[route], config={"configurable": FAST})]
    assert len(chunks) >= 3
    assert "".join(chunks).strip()


def test_remote_runnable_sync_client_works_too(platform):
    remote = RemoteRunnable(f"{platform.url}/complete", timeout=120, headers=platform.headers)
    assert remote.invoke({"text": "Once upon a time"}, config={"configurable": FAST}).strip()


async def test_remote_runnable_raises_with_the_real_error(platform):
    remote = RemoteRunnable(f"{platform.url}/generate", timeout=120, headers=platform.headers)
    with pytest.raises(Exception, match="422"):
        await remote.ainvoke({"prompt": ""})


async def test_remote_runnable_sees_summarize_progress_as_custom_events(platform):
    """Map-reduce progress reaches LangServe's client as LangChain custom events."""
    remote = RemoteRunnable(f"{platform.url}/summarize", timeout=120, headers=platform.headers)
    text = "\n\n".join(f"Part {n}. " + "The council met and planted trees. " * 30 for n in range(4))
    progress = [
        event["data"]
        async for event in remote.astream_events(
            {"text": text}, config={"configurable": FAST}, version="v2"
        )
        if event["event"] == "on_custom_event" and event["name"] == "progress"
    ]
    assert [step["part"] for step in progress if step["round"] == 1][:2] == [1, 2]
    assert all(step["of"] >= 2 for step in progress)
