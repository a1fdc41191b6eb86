"""GET /metrics: Prometheus text format, for admin keys (scrape with a bearer token)."""

from fastapi import Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import ServicesDep, admin_principal
from app.http.json_body import api_router

router = api_router(tags=["metrics"], dependencies=[Depends(admin_principal)])


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    metrics = services.metering.metrics
    stored = services.providers.cache.stored_bytes()
    if stored is not None:
        metrics.cache_bytes.set(stored)
    return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)
