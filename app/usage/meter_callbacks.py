"""A request's meter as LangChain sees it: the thin callback adapter by which a chain's model
calls reach the bill. The chain's run carries it in its config's callbacks; /v1 calls the meter
itself. It holds the request's account (`AccountHolder`), so the platform's chat model finds
the account there, and is closed with the meter."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackManager
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig

from app.errors import PlatformError
from app.providers import MODEL_ALIAS_METADATA, AccountHolder
from app.usage.call_meter import CallMeter
from app.usage.counting import Prompt

_ROLES = {"human": "user", "ai": "assistant"}


def as_prompt(messages: list[BaseMessage]) -> Prompt:
    return [(_ROLES.get(message.type, message.type), message.text) for message in messages]


class MeterCallbacks(AsyncCallbackHandler, AccountHolder):
    raise_error = True  # a refused call or reservation must stop the model call
    run_inline = True  # ...before the call starts, in order

    def __init__(self, meter: CallMeter) -> None:
        AccountHolder.__init__(self, meter.account)  # its account is closed with the request
        self._meter = meter

    @property
    def meter(self) -> CallMeter:
        return self._meter

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        invocation_params: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        alias = (metadata or {}).get(MODEL_ALIAS_METADATA, self._meter.model)
        max_tokens = int((invocation_params or {}).get("max_tokens") or 0)
        await self._meter.start_call(run_id, alias, as_prompt(messages[0]), max_tokens)

    async def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        if self._meter.model_call(run_id) is not None:
            self._meter.output_began()

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._meter.end_call(run_id)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._meter.end_call(run_id)


def meter_in(config: RunnableConfig) -> CallMeter:
    """The meter of the request a chain runs for, among its run's callbacks; a bug (500) if
    it has none (a run outside an admitted request)."""
    callbacks = config.get("callbacks")
    handlers = callbacks.handlers if isinstance(callbacks, BaseCallbackManager) else callbacks
    for handler in handlers or ():
        if isinstance(handler, MeterCallbacks):
            return handler.meter
    raise PlatformError(
        "A use case ran outside an admitted request; it was refused.", code="unmetered_run"
    )
