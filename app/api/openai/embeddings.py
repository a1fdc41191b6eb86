"""/v1/embeddings in OpenAI's protocol: the request we accept, the body we send."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.usage.counting import prompt_upper_bound

Text = Annotated[StrictStr, Field(min_length=1)]
TokenIds = Annotated[list[Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]], Field(min_length=1)]
#: OpenAI's bound on the inputs of one request.
MAX_INPUTS = 2048


class EmbeddingRequest(BaseModel):
    """Texts (or token ids, for providers whose tokenizer made them) to embed; unknown
    parameters are passed on to the provider."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=64)
    input: (
        Text
        | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)]
    ) = Field(description="A text, a list of texts, or token ids (one list or a list of lists).")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: StrictInt | None = Field(None, ge=1, le=65536)
    user: StrictStr | None = Field(None, max_length=256)

    def token_bound(self) -> int:
        """The most tokens the input can take."""
        given = self.input
        if isinstance(given, str):
            return prompt_upper_bound(given)
        return sum(
            prompt_upper_bound(item) if isinstance(item, str)
            else len(item) if isinstance(item, list) else 1
            for item in given
        )  # fmt: skip


def embedding_list(upstream: dict[str, Any], alias: str, tokens: int) -> dict[str, Any]:
    """OpenAI's embeddings body, named by the alias, with the tokens the ledger counted."""
    data = [
        {
            "object": "embedding",
            "index": item.get("index", index),
            "embedding": item.get("embedding"),
        }
        for index, item in enumerate(upstream["data"])
    ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": alias, "usage": usage}
