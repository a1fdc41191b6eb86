"""The use cases' routes, mounted once their chains are loaded: right after startup, or by the
first request that needs them, whichever comes first. Loading imports LangChain, LangServe and
every chain (a second of a cold start), in a thread, so /v1 answers meanwhile; the routes are
then added on the event loop. A failure to load is logged, and every request that needed the
use cases hears it as a 503 naming it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

from app.errors import ServiceUnavailable
from app.http.openapi import Documented
from app.services import Services

if TYPE_CHECKING:  # LangServe, imported with the use cases
    from app.api.use_cases.runs import ChainRuns

logger = logging.getLogger(__name__)


class UseCaseMounting:
    def __init__(self, app: FastAPI, services: Services, documented: Documented) -> None:
        self._app, self._services, self._documented = app, services, documented
        self._mounted: asyncio.Task[None] | None = None
        self.ready = False
        #: Each use case's runs, by name, once mounted: what other ways in (/mcp) call.
        self.runs: dict[str, ChainRuns] = {}

    def start(self) -> asyncio.Task[None]:
        """Load and mount them, once (in the running event loop)."""
        if self._mounted is None:
            self._mounted = asyncio.ensure_future(self._mount())
        return self._mounted

    @property
    def failure(self) -> str | None:
        """Why they could not be loaded, once that is known."""
        task = self._mounted
        if task is None or not task.done() or task.cancelled() or task.exception() is None:
            return None
        return f"{type(task.exception()).__name__}: {task.exception()}"

    async def done(self) -> None:
        """Return once they are mounted; a 503 if they could not be loaded."""
        if self.ready:
            return
        mounted = self.start()
        try:
            await asyncio.shield(mounted)
        except Exception as exc:
            raise ServiceUnavailable(
                f"The use cases could not be loaded ({type(exc).__name__}: {exc}); the "
                "platform's log has the details. /v1 is served meanwhile.",
                code="use_cases_unavailable",
            ) from None

    async def _mount(self) -> None:
        try:
            chains = await asyncio.to_thread(self._services.use_cases.load)
            from app.api.use_cases.mount import mount_use_cases  # LangServe, loaded by now

            self.runs = mount_use_cases(self._app, chains, self._services, self._documented)
            self.ready = True
        except Exception:
            logger.exception("the use cases could not be loaded")
            raise
