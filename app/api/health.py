"""Liveness and readiness, the only routes that never need a key."""

from fastapi import APIRouter

from app.api.deps import ProvidersDep
from app.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(providers: ProvidersDep) -> dict[str, str]:
    """The default model's provider answers."""
    problem = await providers.readiness_problem()
    if problem:
        raise ServiceUnavailable(problem, code="not_ready")
    return {"status": "ready"}
