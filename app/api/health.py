"""Liveness and readiness, the only routes that never need a key."""

from app.api.deps import ServicesDep
from app.errors import ServiceUnavailable
from app.http.json_body import api_router

router = api_router(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(services: ServicesDep) -> dict[str, str]:
    """The default model's provider answers, and the replica is not shutting down."""
    if services.drain.draining:
        raise ServiceUnavailable("This replica is shutting down.", code="shutting_down")
    problem = await services.providers.readiness_problem()
    if problem:
        raise ServiceUnavailable(problem, code="not_ready")
    return {"status": "ready"}
