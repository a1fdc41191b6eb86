"""The one settings object: `GENAI_*` environment variables over an optional YAML file.

Nested keys use `__` in environment variables (`GENAI_MODELS__GPT__API_KEY`). The YAML file is
named by `GENAI_CONFIG_FILE` (or `genai serve --config`). Everything is validated at startup;
`describe_validation_error` turns a failure into lines that name the bad key.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from app.settings.guardrails import CATEGORIES, Action, GuardrailPolicy, ModerationSpec
from app.settings.models import (
    CacheMode,
    CacheSpec,
    Deployment,
    InvalidSettings,
    LocalModelSettings,
    ModelSpec,
    ProviderKind,
)

__all__ = [
    "CATEGORIES",
    "CONFIG_FILE_VARIABLE",
    "PROJECT_ROOT",
    "Action",
    "CacheMode",
    "CacheSpec",
    "Deployment",
    "GuardrailPolicy",
    "InvalidSettings",
    "LocalModelSettings",
    "ModelSpec",
    "ModerationSpec",
    "ProviderKind",
    "Settings",
    "describe_validation_error",
    "is_loopback",
    "load_settings",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE_VARIABLE = "GENAI_CONFIG_FILE"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GENAI_", env_nested_delimiter="__", extra="forbid", validate_default=True,
        populate_by_name=True,
    )  # fmt: skip

    host: str = "127.0.0.1"
    port: int = Field(
        8000, ge=1, le=65535, validation_alias=AliasChoices("GENAI_PORT", "PORT"),
        description="GENAI_PORT, else PORT (as container platforms set it).",
    )  # fmt: skip
    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str | None = Field(None, description="Default: SQLite in data_dir.")
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    redis_url: str | None = Field(
        None, description="Limits, budgets, circuit breakers and the answer cache shared by "
        "replicas; default: "
        "kept in this process."
    )  # fmt: skip
    redis_prefix: str = Field("genai:", description="Prefix of every Redis key the platform uses.")

    models: dict[str, ModelSpec] = Field(
        default_factory=lambda: {
            "local": ModelSpec(provider="local", model="smollm2"),
            "local-embed": ModelSpec(provider="local-embed", model="all-minilm-l6-v2"),
        }
    )
    default_model: str = "local"
    route_models: dict[str, str] = Field(
        default_factory=dict, description="Use case name -> model alias used by default."
    )
    max_tokens_limit: int = Field(2048, ge=1, description="Highest max_tokens a client may ask.")
    local_model: LocalModelSettings = Field(default_factory=LocalModelSettings)
    local_model_path: Path | None = Field(None, description="Shortcut for local_model.path.")

    auth_enabled: bool = Field(
        True, description="Keys required on every route but /health and /ready."
    )
    secret_key: SecretStr | None = Field(
        None, description="Keys are hashed with it; default: a random one kept in data_dir."
    )
    bootstrap_admin: bool = Field(
        True, description="On a database with no tenant, create tenant 'local' with an admin key "
        "saved in data_dir/admin-key. Off where there is no local disk (serverless): create the "
        "first admin key with `genai keys create` instead."
    )  # fmt: skip
    auth_cache_seconds: float = Field(
        2.0, ge=0, description="How long a key's record is reused without a database read; "
        "a revocation by another replica or the CLI applies within this time."
    )  # fmt: skip
    session_cookie_hours: float = Field(12.0, gt=0, description="Browser session lifetime.")
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_upload_bytes: int = Field(
        25_000_000, ge=1024, description="Largest multipart body (a form with files, such as "
        "an image to edit); other bodies have max_body_bytes."
    )  # fmt: skip
    max_file_bytes: int = Field(
        20_000_000, ge=1, description="Largest file uploaded to /v1/files; the form that "
        "carries it is held to max_upload_bytes as well."
    )  # fmt: skip
    batch_concurrency: int = Field(
        4, ge=1, description="Batch lines a replica runs at once while it serves no "
        "interactive request (while it does, one line per batch_poll_seconds)."
    )  # fmt: skip
    batch_limit_share: float = Field(
        0.5, gt=0, le=1, description="The share of each rate and concurrency limit a batch's "
        "lines may use; the rest is kept for interactive calls."
    )  # fmt: skip
    batch_lease_seconds: float = Field(
        30.0, gt=0, description="How long a replica holds the batch lines it claimed without "
        "renewing them; a dead replica's lines are taken up again after this."
    )  # fmt: skip
    batch_poll_seconds: float = Field(
        1.0, gt=0, description="How often a replica looks for batch lines to run (slowing to "
        "8 times this while it finds none; one that creates a batch starts it at once)."
    )  # fmt: skip
    cache_max_bytes: int = Field(
        64_000_000, ge=0, description="The most bytes of answers a replica caches in process "
        "(the least recently used go first); with redis_url the cache is Redis's, shared."
    )  # fmt: skip
    cache_max_entry_bytes: int = Field(
        1_000_000, ge=1, description="A larger answer is not cached."
    )
    max_header_bytes: int = Field(32_768, ge=1024, description="Request headers, in all.")
    max_headers: int = Field(100, ge=10, description="Headers a request may have.")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest time to send a request's headers."
    )
    body_timeout_seconds: float = Field(
        60.0, gt=0, description="Longest time to send a request's body, after its headers."
    )
    summarize_chunk_chars: int = Field(
        3000, ge=200, description="Texts longer than this are summarized map-reduce."
    )
    document_max_pages: int = Field(
        100, ge=1, description="Most pages of an uploaded PDF (POST /summarize/file)."
    )
    document_max_chars: int = Field(
        1_000_000, ge=1000, description="Most characters of text an uploaded document may hold."
    )
    document_parse_seconds: float = Field(
        10.0, gt=0, description="Longest an uploaded document may take to read (wall and CPU "
        "time), in a process of its own; past it, 400 document_too_complex."
    )  # fmt: skip
    document_parse_memory_mb: int = Field(
        768, ge=128, description="The address space that process may use (its parser's memory)."
    )
    document_workers: int = Field(
        1, ge=1, description="Documents read at once per replica; others wait their turn."
    )
    code_max_attempts: int = Field(
        3, ge=1, le=10, description="/code: replies the model may write, repairs included."
    )
    chat_history_tokens: int = Field(
        1024, ge=64, description="Most tokens of stored history sent back to the model."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="auto: text at a terminal, JSON lines otherwise."
    )
    log_prompts: bool = Field(False, description="Put prompt and completion text in log lines.")
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector for traces, e.g. http://otel-collector:4318; "
        "default: no traces are sent."
    )  # fmt: skip
    service_name: str = Field("genai-platform", description="service.name of the traces.")
    stream_retention_seconds: float = Field(
        300.0, gt=0, description="How long a resumable stream's events are kept after its last "
        "one, for a client that reconnects."
    )  # fmt: skip
    background_check_seconds: float = Field(
        2.0, gt=0, description="How often a replica answering a background response checks "
        "that it was not cancelled (on any replica), and shows it is still answering it; one "
        "not shown for 5 times this is reported failed (its replica stopped)."
    )  # fmt: skip
    stream_keepalive_seconds: float = Field(
        15.0, gt=0, description="A stream waiting this long for its next event (a queued call, "
        "a long map-reduce step) sends an SSE comment, so idle-timing proxies keep it open."
    )  # fmt: skip
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long requests in flight may take to finish."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = settings_cls.model_config.get("yaml_file") or os.environ.get(
            CONFIG_FILE_VARIABLE
        )
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if config_file:
            if not Path(config_file).is_file():
                raise InvalidSettings(f"{CONFIG_FILE_VARIABLE}: no such file: {config_file}")
            sources += (YamlConfigSettingsSource(settings_cls, yaml_file=config_file),)
        return sources

    @model_validator(mode="after")
    def _check_aliases(self) -> Settings:
        if not self.models:
            raise ValueError("models: at least one model alias is needed")
        for alias in self.models:
            if not 0 < len(alias) <= 64 or "," in alias:
                raise ValueError(f"models.{alias}: an alias has 1 to 64 characters, no comma")
        if self.default_model not in self.models:
            raise ValueError(
                f"default_model: '{self.default_model}' is not one of models {sorted(self.models)}"
            )
        for route, alias in self.route_models.items():
            if alias not in self.models:
                raise ValueError(f"route_models.{route}: '{alias}' is not one of the models")
        for alias, spec in self.models.items():
            moderator = spec.moderation and self.models.get(spec.moderation.model)
            if spec.moderation and (moderator is None or moderator.moderation is not None):
                raise ValueError(
                    f"models.{alias}.moderation.model: '{spec.moderation.model}' is not one of "
                    "the models without a moderation of its own"
                )
        if not self.auth_enabled and not is_loopback(self.host):
            raise ValueError(
                f"auth_enabled: may be false only on a loopback host, not on '{self.host}'"
            )
        if self.local_model_path is not None:
            self.local_model.path = self.local_model_path
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'genai.db'}"

    def model_for(self, use_case: str) -> str:
        return self.route_models.get(use_case, self.default_model)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem, naming the key as a GENAI_ variable would spell it."""
    lines = []
    for problem in error.errors():
        key = "__".join(str(part) for part in problem["loc"]).upper()
        name = _ALIASED.get(key) or (f"GENAI_{key}" if key else "settings")
        lines.append(f"{name}: {problem['msg']}")
    return lines


#: Settings read from more than one variable, by the name their errors carry.
_ALIASED = {"GENAI_PORT": "GENAI_PORT (or PORT)"}


def _unknown_variable() -> str | None:
    """A GENAI_ variable that names no setting: the environment source would ignore it."""
    names = {name.upper() for name in Settings.model_fields}
    unknown = [
        key
        for key in sorted(os.environ)
        if key.startswith("GENAI_")
        and key != CONFIG_FILE_VARIABLE
        and key.removeprefix("GENAI_").split("__")[0] not in names
    ]
    return unknown[0] if unknown else None


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment, over `config_file` (default: $GENAI_CONFIG_FILE)."""
    unknown = _unknown_variable()
    if unknown is not None:
        raise InvalidSettings(
            f"{unknown}: no such setting (misspelt?); the README's configuration table lists them"
        )
    settings_cls = Settings
    if config_file is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": config_file})
        settings_cls = type("Settings", (Settings,), {"model_config": config})
    try:
        return settings_cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = "\n  ".join(describe_validation_error(exc))
        raise InvalidSettings(f"invalid configuration:\n  {lines}") from None
