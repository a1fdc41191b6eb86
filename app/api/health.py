"""Liveness and readiness, the only routes that never need a key."""

from fastapi import Request

from app.api.deps import ServicesDep
from app.errors import ServiceUnavailable
from app.http.json_body import api_router

router = api_router(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request, services: ServicesDep) -> dict[str, str]:
    """The default model's provider answers, the use cases did not fail to load (they may
    still be loading: a request for one waits for them), and the replica is not shutting
    down."""
    if services.drain.draining:
        raise ServiceUnavailable("This replica is shutting down.", code="shutting_down")
    if failure := request.app.state.use_cases.failure:
        raise ServiceUnavailable(f"The use cases could not be loaded ({failure}).",
                                 code="use_cases_unavailable")  # fmt: skip
    problem = await services.providers.readiness_problem()
    if problem:
        raise ServiceUnavailable(problem, code="not_ready")
    return {"status": "ready"}
