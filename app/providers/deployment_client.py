"""What every provider kind's client shares (clients.py, embedder_client.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.errors import ProviderRefused
from app.settings import Deployment


class DeploymentClient:
    """What every client shares: its deployment, the endpoints it serves, the body it takes."""

    #: The endpoints it is sent; None: every one (it refuses what its model cannot do).
    endpoints: ClassVar[tuple[str, ...] | None] = None
    #: Its tokens are counted exactly when it reports none (the embedded model's tokenizer).
    counts_exactly: ClassVar[bool] = False

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def serves(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body as this provider takes it: the deployment's model named."""
        return {**body, "model": self.deployment.model or "local"}

    def refusal(self, endpoint: str, payload: Mapping[str, Any]) -> ProviderRefused | None:
        """What the provider would refuse of the request, known before asking it."""
        return None
