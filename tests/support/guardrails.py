"""The guardrails' API tests share this: a platform over the recording upstream, tenants with
policies, and values each category should catch.

Aliases: "open" (no policy of its own), "strict" (a floor that blocks secrets in requests),
"moderator" (the upstream's /v1/moderations), "moderated" and "flagged" (moderated by it,
blocking and flagging).
Tenants: "masks" masks e-mails, cards, IBANs and secrets in requests; "blocks" blocks secrets
in requests; "plain" has no policy.
"""

from __future__ import annotations

import json
from typing import Any

from app.main import create_app
from app.settings import ModelSpec
from tests.support.tenancy import Platform

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
SECRET = "sk-proj-a1B2c3D4e5F6g7H8i9J0k1L2m3N4"
VALUES = (EMAIL, CARD, IBAN, SECRET)
PROMPT = f"Write to {EMAIL} about card {CARD} and IBAN {IBAN}; our key is {SECRET}."

MASKS = {"request": {"email": "mask", "card": "mask", "iban": "mask", "secret": "mask"}}
BLOCKS = {"request": {"secret": "block"}}
CHAT = "/v1/chat/completions"


def chat(text: str = PROMPT, model: str = "open", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **fields}


def guarded_platform(make_settings: Any, upstream: str, **settings: Any) -> Platform:
    deployment = {"provider": "openai-compatible", "model": "m", "base_url": upstream,
                  "max_retries": 0}  # fmt: skip
    models = {
        "open": ModelSpec(deployments=[deployment]),
        "strict": ModelSpec(deployments=[deployment], guardrails=BLOCKS),
        "moderator": ModelSpec(deployments=[deployment]),
        "moderated": ModelSpec(deployments=[deployment], moderation={"model": "moderator"}),
        "flagged": ModelSpec(deployments=[deployment],
                             moderation={"model": "moderator", "action": "flag"}),
    }  # fmt: skip
    platform = Platform(create_app(make_settings(
        auth_enabled=True, models=models, default_model="open", **settings
    )))  # fmt: skip
    platform.tenant("masks", guardrails=MASKS)
    platform.tenant("blocks", guardrails=BLOCKS)
    platform.tenant("plain")
    return platform


def sent_texts(received: list[dict[str, Any]]) -> str:
    """Everything the upstream was sent, as one text."""
    return json.dumps(received, ensure_ascii=False)
