"""/admin: tenants and keys, for admin keys only."""

from typing import Annotated, Any

import anyio
from fastapi import Depends, Query

from app.api.deps import ServicesDep, admin_principal
from app.errors import NotFound
from app.http.json_body import api_router
from app.limits.admission import TenantLoad
from app.tenants.models import (
    ApiKey,
    CreatedKey,
    KeyCreate,
    Tenant,
    TenantChanges,
    TenantCreate,
)

router = api_router(prefix="/admin", tags=["admin"], dependencies=[Depends(admin_principal)])


@router.post("/tenants", status_code=201)
async def create_tenant(spec: TenantCreate, services: ServicesDep) -> Tenant:
    return await anyio.to_thread.run_sync(services.tenants.create_tenant, spec)


@router.get("/tenants")
async def list_tenants(services: ServicesDep) -> dict[str, Any]:
    return {"tenants": await anyio.to_thread.run_sync(services.tenants.list_tenants)}


@router.get("/tenants/{tenant_id}")
async def read_tenant(tenant_id: str, services: ServicesDep) -> Tenant:
    return await anyio.to_thread.run_sync(services.tenants.get_tenant, tenant_id)


@router.patch("/tenants/{tenant_id}")
async def update_tenant(tenant_id: str, changes: TenantChanges, services: ServicesDep) -> Tenant:
    return await anyio.to_thread.run_sync(services.tenants.update_tenant, tenant_id, changes)


@router.get("/tenants/{tenant_id}/load")
async def read_tenant_load(tenant_id: str, services: ServicesDep) -> TenantLoad:
    """What the tenant uses right now: requests running, the last minute's requests and
    tokens, and its budget spent and reserved (counted while the tenant has limits)."""
    tenant = await anyio.to_thread.run_sync(services.tenants.get_tenant, tenant_id)
    return await services.admission.load(tenant)


@router.post("/tenants/{tenant_id}/keys", status_code=201)
async def create_key(tenant_id: str, spec: KeyCreate, services: ServicesDep) -> CreatedKey:
    return await anyio.to_thread.run_sync(services.tenants.create_key, tenant_id, spec)


@router.get("/keys")
async def list_keys(services: ServicesDep, tenant: str | None = None) -> dict[str, list[ApiKey]]:
    return {"keys": await anyio.to_thread.run_sync(services.tenants.list_keys, tenant)}


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, services: ServicesDep) -> ApiKey:
    return await anyio.to_thread.run_sync(services.tenants.revoke_key, key_id)


@router.delete("/tenants/{tenant_id}/cache")
async def purge_cache(
    tenant_id: str, services: ServicesDep,
    model: Annotated[str | None, Query(description="One model alias; default: all")] = None,
) -> dict[str, Any]:  # fmt: skip
    """Drop the tenant's cached answers (of one alias), on every replica sharing the cache."""
    await anyio.to_thread.run_sync(services.tenants.get_tenant, tenant_id)  # 404 if none
    if model is not None and model not in services.settings.models:
        raise NotFound(f"No model alias '{model}'.", param="model", code="model_not_found")
    purged = await services.providers.cache.purge(tenant_id, model)
    return {"tenant_id": tenant_id, "model": model, "purged": purged}
