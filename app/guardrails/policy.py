"""How an alias's, a tenant's and a key's guardrail policies make the rules of one call.

- A key's policy overrides its tenant's, category by category (the client app's own).
- An alias's policy is a floor: where it is stricter (allow < mask < redact < block), it
  wins, so no tenant or key can send what an alias's provider must not see.
- A dry run (the tenant's or key's `dry_run`) applies the alias's floor alone, and counts
  what the client's own policy would have done beyond it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from app.settings import Action, GuardrailPolicy

_STRICTNESS = {"allow": 0, "mask": 1, "redact": 2, "block": 3}


@dataclass(frozen=True)
class Rules:
    """What a call does with each category it looks for, by direction; `trial`: what a dry
    run only counts."""

    request: Mapping[str, Action]
    response: Mapping[str, Action]
    trial_request: Mapping[str, Action] = field(default_factory=dict)
    trial_response: Mapping[str, Action] = field(default_factory=dict)
    patterns: Mapping[str, Any] = field(default_factory=dict)  # compiled RE2, by name

    def looks_for(self, direction: str) -> list[str]:
        acts, trial = (
            (self.request, self.trial_request) if direction == "request"
            else (self.response, self.trial_response)
        )  # fmt: skip
        return [category for category in {**acts, **trial}
                if acts.get(category, "allow") != "allow" or category in trial]  # fmt: skip


def client_policy(
    tenant: GuardrailPolicy | None, key: GuardrailPolicy | None
) -> GuardrailPolicy | None:
    """The client app's own policy: its key's over its tenant's, category by category."""
    if key is None or tenant is None:
        return key or tenant
    return GuardrailPolicy(
        request={**tenant.request, **key.request},
        response={**tenant.response, **key.response},
        patterns={**tenant.patterns, **key.patterns},
        dry_run=key.dry_run or tenant.dry_run,
        store_masked=key.store_masked or tenant.store_masked,
    )


def keeping_rules(client: GuardrailPolicy | None) -> Rules | None:
    """The rules of what the server keeps of a conversation under a `store_masked` policy:
    what it masks or redacts in requests, redacted; None: kept as sent."""
    if client is None or not client.store_masked:
        return None
    hidden = {category: "redact" for category, action in client.request.items()
              if action in ("mask", "redact")}  # fmt: skip
    if not hidden:
        return None
    return _rules(None, GuardrailPolicy(request=hidden, patterns=client.patterns).model_dump_json())


def _stricter(floor: Mapping[str, Action], own: Mapping[str, Action]) -> dict[str, Action]:
    rules = dict(floor)
    for category, action in own.items():
        if _STRICTNESS[action] > _STRICTNESS[rules.get(category, "allow")]:
            rules[category] = action
    return rules


def _beyond(floor: Mapping[str, Action], own: Mapping[str, Action]) -> dict[str, Action]:
    return {category: action for category, action in own.items()
            if _STRICTNESS[action] > _STRICTNESS[floor.get(category, "allow")]}  # fmt: skip


def rules_for(alias: GuardrailPolicy | None, client: GuardrailPolicy | None) -> Rules | None:
    """The rules of a call to an alias with this policy, for a client with its own; None
    when neither acts."""
    if not (alias and alias.acts) and not (client and client.acts):
        return None
    return _rules(
        alias.model_dump_json() if alias else None, client.model_dump_json() if client else None
    )


@lru_cache(maxsize=1024)
def _rules(alias_json: str | None, client_json: str | None) -> Rules:
    """Worked out (and its patterns compiled) once per pair of policies."""
    alias = GuardrailPolicy.model_validate_json(alias_json) if alias_json else GuardrailPolicy()
    client = GuardrailPolicy.model_validate_json(client_json) if client_json else GuardrailPolicy()
    patterns = {**client.patterns, **alias.patterns}
    compiled: dict[str, Any] = {}
    if patterns:
        import re2

        compiled = {name: re2.compile(pattern) for name, pattern in patterns.items()}
    if client.dry_run:
        return Rules(
            dict(alias.request), dict(alias.response),
            _beyond(alias.request, client.request), _beyond(alias.response, client.response),
            compiled,
        )  # fmt: skip
    return Rules(
        _stricter(alias.request, client.request), _stricter(alias.response, client.response),
        patterns=compiled,
    )  # fmt: skip
