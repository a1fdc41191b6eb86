"""What tenants and keys look like to the admin API, the command line and the rest of the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BudgetPeriod = Literal["day", "month"]
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Limits(BaseModel):
    """Requests and tokens per minute and requests at once; None is unlimited."""

    model_config = ConfigDict(from_attributes=True)

    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    max_concurrent: int | None = Field(None, ge=1)


class TenantChanges(Limits):
    """Fields an admin may set on a tenant; unset fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_routes: list[str] | None = Field(None, description="None: every route.")
    allowed_models: list[str] | None = Field(None, description="None: every model alias.")
    budget_usd: float | None = Field(None, ge=0)
    budget_period: BudgetPeriod | None = None


class TenantCreate(TenantChanges):
    id: str = Field(pattern=TENANT_ID_PATTERN, description="Lowercase slug, e.g. 'partner-a'.")


class Tenant(Limits):
    id: str
    name: str
    allowed_routes: list[str] | None
    allowed_models: list[str] | None
    budget_usd: float | None
    budget_period: BudgetPeriod
    created_at: datetime


class KeyCreate(Limits):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    admin: bool = False
    expires_at: datetime | None = None


class ApiKey(Limits):
    id: str
    tenant_id: str
    name: str
    admin: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedKey(ApiKey):
    key: str = Field(description="The key itself: shown this once, never stored.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant, through one of its keys."""

    tenant: Tenant
    key: ApiKey

    @property
    def admin(self) -> bool:
        return self.key.admin

    def may_use_route(self, route: str) -> bool:
        allowed = self.tenant.allowed_routes
        return allowed is None or route in allowed

    def may_use_model(self, alias: str) -> bool:
        allowed = self.tenant.allowed_models
        return allowed is None or alias in allowed
