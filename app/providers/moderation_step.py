"""An alias's moderation: its request's texts asked of a moderation deployment before its own
provider sees them, and the verdict read.

The dispatcher asks (`ModerationStep.asked`: the moderation alias and the body to send it, the
texts as the guardrails left them), makes the call on the moderation alias's deployments
itself, and hands the answer back (`verdict`): a flagged text blocks the request (a
`BadRequest` naming where it was and the categories flagged) or is counted and let through,
as the alias's `moderation.action` says. The call is the request's, on its account and bill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequest
from app.providers.accounting import CallAccount
from app.providers.answers import Answer
from app.providers.body_texts import texts_of
from app.settings import ModelSpec, ModerationSpec

ENDPOINT = "moderations"


@dataclass(frozen=True)
class Asked:
    """A moderation call to make: for `alias`, of `texts`, each named where it is."""

    alias: str
    spec: ModerationSpec
    texts: list[tuple[str, str]]

    @property
    def body(self) -> dict[str, Any]:
        return {"input": [text for text, _ in self.texts]}


class ModerationStep:
    def __init__(self, models: Mapping[str, ModelSpec]) -> None:
        self._specs = {alias: spec.moderation for alias, spec in models.items() if spec.moderation}

    def asked(self, alias: str, body: Mapping[str, Any]) -> Asked | None:
        """The moderation call a call to `alias` needs first, if any."""
        spec = self._specs.get(alias)
        if spec is None:
            return None
        texts = [(text, where) for text, where in texts_of(body) if text.strip()]
        return Asked(alias, spec, texts) if texts else None

    @staticmethod
    def verdict(asked: Asked, answer: Answer, account: CallAccount) -> None:
        """Block or count what was flagged (module doc)."""
        results = answer.data.get("results") or []
        flagged = [(place, result) for place, result in enumerate(results)
                   if isinstance(result, dict) and result.get("flagged")]  # fmt: skip
        if not flagged:
            return
        account.guard_counts[f"request.moderation.{asked.spec.action}"] += 1
        if asked.spec.action == "flag":
            return
        place, result = flagged[0]
        where = asked.texts[place][1] if place < len(asked.texts) else "input"
        categories = sorted(
            name for name, on in (result.get("categories") or {}).items() if on is True
        )
        named = ", ".join(categories) or "no category named"
        raise BadRequest(
            f"The request's {where} was flagged by moderation ({named}), which model "
            f"'{asked.alias}' blocks: rephrase it, or ask an admin to have that model flag such "
            "requests instead.",
            param=where, code="guardrail_blocked",
        )  # fmt: skip
