"""The client of the embedded embedding model (provider kind `local-embed`): no HTTP, the
model runs in this process, a slice of texts per fair turn (clients.py has the other kinds)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.errors import ProviderRefused
from app.providers.answers import Answer
from app.providers.calls import UpstreamCall
from app.providers.deployment_client import DeploymentClient
from app.providers.failures import Failure
from app.providers.fair_queue import FairQueue, Waiter
from app.providers.local_embedder import LocalEmbedder
from app.settings import Deployment


class EmbedderClient(DeploymentClient):
    """The embedded embedding model, run in this process, a slice of texts per fair turn."""

    endpoints = ("embeddings",)
    counts_exactly = True

    def __init__(self, deployment: Deployment, embedder: LocalEmbedder) -> None:
        super().__init__(deployment)
        self._embedder = embedder

    async def embed(
        self, payload: dict[str, Any], call: UpstreamCall, queue: FairQueue | None,
        waiter: Waiter,
    ) -> Answer:  # fmt: skip
        """The answer, a slice per turn of its queue, so another tenant's request waits for
        one slice; what it refuses is the client's to fix."""
        try:
            embedding = await asyncio.to_thread(self._embedder.plan, payload)
        except ProviderRefused as refusal:
            raise Failure(refusal, counts=False, retryable=False) from None
        for texts in embedding.slices:
            release = await queue.acquire(waiter) if queue is not None else None
            try:
                await asyncio.to_thread(self._embedder.run, embedding, texts)
            finally:
                if release is not None:
                    release()
        answer = embedding.answer()
        call.usage = answer.usage
        return answer

    async def probe(self) -> str | None:
        return None  # a model in this process: nothing to ask
