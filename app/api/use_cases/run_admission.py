"""Admitting a use case's runs: the model each input will use, the most tokens each can take,
the prompt version each gets; then the server's part of every run's config (the meter among
its callbacks, the tenant, tracing), which a client cannot set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs

from app.settings import Settings
from app.tenants.models import Principal
from app.usage.call_meter import CallMeter
from app.usage.lifecycle import TEMPLATE_ALLOWANCE, MeteredRequest, PlannedCall, ledger_label
from app.usage.meter_callbacks import MeterCallbacks
from app.use_cases.kit import TENANT_ID
from app.use_cases.versions import PROMPT_VERSION, load_prompt_versions

if TYPE_CHECKING:  # OpenTelemetry is imported only when traces are sent
    from app.observability.tracing import Tracing


@dataclass(frozen=True)
class Runs:
    """A request's validated inputs, each with its config (one, except for batch)."""

    inputs: list[Any]
    configs: list[RunnableConfig]
    bounds: list[int]  # the most tokens each run's call can take, as admission reserves
    server_config: RunnableConfig | None = None  # merged into `configs` once admitted


class RunAdmission:
    """Admits one use case's runs (module doc)."""

    def __init__(self, name: str, settings: Settings, tracing: Tracing | None) -> None:
        self._name = name
        self._default_model = settings.model_for(name)
        self._tracing = tracing
        own_prompt = settings.prompts_dir / f"{name}.yaml"
        #: The versions of the use case's own prompt (`prompts/<name>.yaml`), if it has one.
        self.prompts = (
            load_prompt_versions(settings.prompts_dir, name) if own_prompt.is_file() else None
        )

    async def admitted(self, runs: Runs, principal: Principal, metered: MeteredRequest) -> Runs:
        """`runs` (read and validated) admitted, each config given the server's part."""
        planned = [
            PlannedCall(self._alias(config), bound)
            for bound, config in zip(runs.bounds, runs.configs, strict=True)
        ]
        meter = await metered.admit(principal, self._name, planned)
        versions = [self._prompt_version(config) for config in runs.configs]
        if self.prompts is not None:
            meter.prompt = ledger_label([self.prompts.label(v) for v in versions if v])
        # One server config per run, the run's prompt version in it (LangServe's own stream
        # routes read only the server's config): one config merge per run, as without versions.
        servers = [self._server_config(principal, meter, version) for version in versions]
        configs = [
            merge_configs(config, server)
            for config, server in zip(runs.configs, servers, strict=True)
        ]
        return Runs(runs.inputs, configs, runs.bounds, servers[0])

    def _prompt_version(self, config: RunnableConfig) -> int | None:
        """The version of the use case's prompt a run gets: the client's pin (validated against
        the versions there are), else the prompt files' draw."""
        if self.prompts is None:
            return None
        pinned = config.get("configurable", {}).get(PROMPT_VERSION)
        return pinned if isinstance(pinned, int) else self.prompts.draw()

    def _alias(self, config: RunnableConfig) -> str:
        alias = config.get("configurable", {}).get("model")
        return alias if isinstance(alias, str) else self._default_model

    def _server_config(
        self, principal: Principal, meter: CallMeter, prompt_version: int | None
    ) -> RunnableConfig:
        tracing = self._tracing
        configurable: dict[str, Any] = {TENANT_ID: principal.tenant.id}  # last: clients can't
        if prompt_version is not None:
            configurable[PROMPT_VERSION] = prompt_version
        metered = MeterCallbacks(meter)
        return {
            "callbacks": [metered, tracing.chain_spans()] if tracing else [metered],
            "configurable": configurable,
            # Carried to LangSmith runs when LangSmith tracing is on.
            "metadata": {
                "tenant": principal.tenant.id,
                "request_id": meter.request_id,
                "client_request_id": meter.client_request_id,
                "prompt": meter.prompt,
            },
        }


def token_bound(raw_input: Any, config: RunnableConfig) -> int:
    """The most tokens an input can take: its bytes (a token covers one or more), the prompt
    template's allowance, and the reply's limit when the client set one."""
    max_tokens = config.get("configurable", {}).get("max_tokens")
    reply = max_tokens if isinstance(max_tokens, int) else 0
    return len(orjson.dumps(raw_input)) + TEMPLATE_ALLOWANCE + reply
