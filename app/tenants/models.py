"""What tenants and keys look like to the admin API, the command line and the rest of the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from app.settings import CacheMode, GuardrailPolicy

BudgetPeriod = Literal["day", "month"]
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

# Strict (no "10" for 10, no "yes" for true) and bounded by where the values are stored.
#: A limit: stored in an INTEGER column, 32 bits on PostgreSQL.
Count = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
#: Dollars: finite, and far from where float sums lose cents.
Dollars = Annotated[StrictFloat, Field(ge=0, le=1e9, allow_inf_nan=False)]
Names = list[Annotated[StrictStr, Field(min_length=1, max_length=64)]]
#: A shared tool's full name, or all of a server's tools: `crm.lookup_customer`, `crm.*`.
ToolName = Annotated[
    StrictStr, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}\.(\*|[A-Za-z0-9_.-]{1,95})$")
]


class Limits(BaseModel):
    """Requests, tokens and images per minute and requests at once; None is unlimited."""

    model_config = ConfigDict(from_attributes=True)

    rpm: Count | None = None
    tpm: Count | None = None
    max_concurrent: Count | None = None
    ipm: Count | None = Field(None, description="Images per minute (as asked for).")


class TenantChanges(Limits):
    """Fields an admin may set on a tenant; unset fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(None, min_length=1, max_length=200)
    allowed_routes: Names | None = Field(None, description="None: every route.")
    allowed_models: Names | None = Field(None, description="None: every model alias.")
    budget_usd: Dollars | None = None
    budget_period: BudgetPeriod | None = None
    cache: CacheMode | None = Field(
        None, description="Its own answer cache mode (off: never cached); null: its aliases'."
    )
    guardrails: GuardrailPolicy | None = Field(
        None, description="What its requests and answers do with personal data and secrets "
        "(its keys' own override it; an alias's is a floor); null: none of its own."
    )  # fmt: skip
    allowed_tools: list[ToolName] | None = Field(
        None, max_length=200, description="The shared tools it may call on /mcp, as "
        "'server.tool' or 'server.*'; null: none.",
    )  # fmt: skip
    tool_rpm: Count | None = Field(None, description="Shared tool calls per minute.")

    @field_validator("name", "budget_period", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it as it is")
        return value


class TenantCreate(TenantChanges):
    id: str = Field(pattern=TENANT_ID_PATTERN, description="Lowercase slug, e.g. 'partner-a'.")


class Tenant(Limits):
    id: str
    name: str
    allowed_routes: list[str] | None
    allowed_models: list[str] | None
    budget_usd: float | None
    budget_period: BudgetPeriod
    created_at: AwareDatetime
    cache: CacheMode | None = None
    guardrails: GuardrailPolicy | None = None
    allowed_tools: list[str] | None = None
    tool_rpm: int | None = None


class KeyCreate(Limits):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1, max_length=200)
    admin: StrictBool = False
    expires_at: AwareDatetime | None = None
    guardrails: GuardrailPolicy | None = Field(
        None, description="Its own guardrail policy, over its tenant's, category by category."
    )


class ApiKey(Limits):
    id: str
    tenant_id: str
    name: str
    admin: bool
    created_at: AwareDatetime
    expires_at: AwareDatetime | None
    revoked_at: AwareDatetime | None
    guardrails: GuardrailPolicy | None = None


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

    def may_use_tool(self, tool: str) -> bool:
        """A shared tool (`server.tool`): granted by name or by its server's `server.*`."""
        allowed = self.tenant.allowed_tools or ()
        return tool in allowed or f"{tool.split('.', 1)[0]}.*" in allowed
