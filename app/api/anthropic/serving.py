"""Serving /v1/messages: Anthropic's Messages API over any deployment that speaks chat
completions, through the model-call seam (api/model_calls.py) like every dialect: the same
admission, limits, failover and ledger row (route `v1/messages`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from app.api.anthropic.output import MessageRelay, message_id, usage_of, whole_message
from app.api.anthropic.request import CountTokensRequest, MessagesRequest
from app.api.model_calls import ModelCalls, parse_body, unknown_model
from app.api.translation import OntoChat
from app.providers import prompt_of
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest, Metering

ROUTE = "v1/messages"


class MessagesServing:
    def __init__(self, calls: ModelCalls, metering: Metering) -> None:
        self._calls = calls
        self._metering = metering

    async def create(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body = await parse_body(MessagesRequest, request)
        return await self._calls.answer(MessageCall(body), request, principal, metered)

    async def count_tokens(self, request: Request, principal: Principal) -> dict[str, int]:
        """The prompt's tokens on the model, counted as its calls are (no model call)."""
        body = await parse_body(CountTokensRequest, request)
        alias = self._calls.known(body.model)
        if not principal.may_use_model(alias):
            raise unknown_model(alias)
        prompt = prompt_of(OntoChat.endpoint, {"messages": body.chat_messages(),
                                               "tools": body.chat_tools()})  # fmt: skip
        return {"input_tokens": self._metering.prompt_tokens(alias, prompt)}


class MessageCall(OntoChat):
    """A /v1/messages request translated onto chat completions (a `Translation`)."""

    route = ROUTE
    max_tokens_field = "max_tokens"

    def __init__(self, body: MessagesRequest) -> None:
        super().__init__(body.model, body.stream, body.max_tokens, body.chat_messages(),
                         body.chat_options())  # fmt: skip
        self._id = message_id()

    async def whole(
        self, upstream: dict[str, Any], input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        return whole_message(self._id, self.alias, upstream, usage_of(input_tokens, output_tokens))

    def new_id(self) -> str:
        return self._id

    def relay(self, id_: str) -> MessageRelay:
        return MessageRelay(id_, self.alias)
