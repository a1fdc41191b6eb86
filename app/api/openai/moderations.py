"""/v1/moderations in OpenAI's protocol: the request we accept, the body we answer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.api.openai.embeddings import MAX_INPUTS
from app.usage.counting import prompt_upper_bound

Text = Annotated[StrictStr, Field(min_length=1)]


class ModerationPart(BaseModel):
    """A part of a multimodal input: `{"type": "text", "text": ...}` or an image's URL."""

    model_config = ConfigDict(extra="allow")

    type: StrictStr
    text: StrictStr | None = None


class ModerationRequest(BaseModel):
    """Texts (or a multimodal input's parts) to classify; unknown parameters are passed on."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=64)
    input: (
        Text
        | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)]
        | Annotated[list[ModerationPart], Field(min_length=1, max_length=MAX_INPUTS)]
    ) = Field(description="A text, a list of texts, or a multimodal input's parts.")

    def token_bound(self) -> int:
        given = [self.input] if isinstance(self.input, str) else self.input
        return sum(
            prompt_upper_bound(item if isinstance(item, str) else item.text or "") for item in given
        )


def moderation_list(upstream: dict[str, Any], alias: str) -> dict[str, Any]:
    """OpenAI's moderation body, named by the alias."""
    return {"id": upstream.get("id") or "modr-genai", "model": alias,
            "results": upstream["results"]}  # fmt: skip
