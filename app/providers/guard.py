"""A deployment's chat client behind its circuit breaker, for the LangServe chains.

The /v1 router and the chains share one `CircuitBreakers`: a deployment that keeps failing
is skipped by both, and an alias's fallbacks take over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, BaseMessageChunk
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict

from app.errors import PlatformError, ServiceUnavailable, as_platform_error
from app.providers.breaker import CircuitBreakers

_PROVIDER_FAILURES = {429, 502, 503, 504}


def is_provider_failure(exc: BaseException) -> bool:
    """A failure of the provider (unreachable, timing out, overloaded) — not of the request,
    and not one of ours (a tenant's limit refusing the call)."""
    if isinstance(exc, PlatformError) or not isinstance(exc, Exception):
        return False
    return as_platform_error(exc).status_code in _PROVIDER_FAILURES


class GuardedModel(RunnableSerializable[Any, BaseMessage]):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    chat: BaseChatModel
    deployment: str
    breakers: CircuitBreakers

    async def _admit(self) -> None:
        if not await self.breakers.allow(self.deployment):
            wait = max(1, round(await self.breakers.retry_after(self.deployment)))
            raise ServiceUnavailable(
                f"The model provider '{self.deployment}' keeps failing; retry in {wait} s.",
                code="deployment_unavailable",
                headers={"Retry-After": str(wait)},
            )

    async def _ended(self, exc: BaseException | None) -> None:
        if exc is None:
            await self.breakers.succeeded(self.deployment)
        elif is_provider_failure(exc):
            await self.breakers.failed(self.deployment)
        else:
            await self.breakers.abandoned(self.deployment)

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        raise NotImplementedError("The platform's models are async only: use ainvoke.")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        await self._admit()
        try:
            result = await self.chat.ainvoke(input, config, **kwargs)
        except BaseException as exc:
            await self._ended(exc)
            raise
        await self._ended(None)
        return result

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseMessageChunk]:
        await self._admit()
        started = False
        try:
            async for chunk in self.chat.astream(input, config, **kwargs):
                if not started:
                    started = True
                    await self._ended(None)  # it answered: whatever follows is not its health
                yield chunk
        except BaseException as exc:
            if not started:
                await self._ended(exc)
            raise
