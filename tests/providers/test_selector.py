"""Model selection per request: the alias, temperature and max_tokens a client picks in
`configurable`, the prompt's defaults otherwise, and a clear refusal of an unknown alias."""

from __future__ import annotations

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage

from app.errors import InvalidRequest
from app.providers.selector import MODEL_ALIAS_METADATA, ModelSelector
from tests.support.fakes import EchoChat


def _selector(max_tokens: int = 40) -> ModelSelector:
    models = {"small": EchoChat(label="small"), "large": EchoChat(label="large")}
    return ModelSelector.create(
        models, "small", temperature=0.3, max_tokens=max_tokens, max_tokens_limit=100
    )


async def _reply(selector: ModelSelector, **configurable: object) -> str:
    answer = await selector.ainvoke(
        [HumanMessage("hello")], {"configurable": configurable} if configurable else None
    )
    return str(answer.content)


async def test_without_a_choice_the_default_alias_answers_with_the_prompts_defaults():
    assert (await _reply(_selector())).startswith("[small temperature=0.3 max_tokens=40]")


async def test_a_client_picks_the_alias_temperature_and_max_tokens():
    reply = await _reply(_selector(), model="large", temperature=1.5, max_tokens=7)
    assert reply.startswith("[large temperature=1.5 max_tokens=7]")


async def test_the_prompts_default_max_tokens_is_capped_at_the_configured_limit():
    assert (await _reply(_selector(max_tokens=5000))).startswith(
        "[small temperature=0.3 max_tokens=100]"
    )


async def test_an_unknown_alias_is_refused_naming_the_field_and_the_choices():
    with pytest.raises(InvalidRequest) as refused:
        await _reply(_selector(), model="gpt-9")
    assert refused.value.param == "config.configurable.model"
    assert "small, large" in refused.value.message


async def test_each_model_call_names_its_alias_in_the_runs_metadata():
    """The usage meter reads the alias from here, whichever way the client named its model."""
    seen: list[str] = []

    class Watcher(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, *, metadata=None, **kwargs):  # type: ignore[no-untyped-def]
            seen.append((metadata or {}).get(MODEL_ALIAS_METADATA))

    config = {"configurable": {"model": "large"}, "callbacks": [Watcher()]}
    await _selector().ainvoke([HumanMessage("hello")], config)
    assert seen == ["large"]


def test_the_choices_are_declared_for_langserve_to_validate():
    specs = {spec.id: spec for spec in _selector().config_specs}
    assert set(specs) == {"model", "temperature", "max_tokens"}
    assert specs["model"].default == "small"
