"""What a dialect supplies to the model-call seam (model_calls.py): its request translated onto
an upstream endpoint of an alias (`Translation`), and its stream's frames (`Relay`); and
`OntoChat`, the part every translation onto chat completions shares."""

from __future__ import annotations

from typing import Any, Protocol

from app.api.hosted_tools import HostedCall, HostedTools
from app.errors import PlatformError
from app.providers import Prompt, prompt_of
from app.streams.kept import StreamOptions as KeptStreamOptions


class Relay(Protocol):
    """A stream's events in one dialect, as server-sent-event frames."""

    def frames(self, chunk: dict[str, Any]) -> list[str]:
        """The frames for one upstream chunk; none for a chunk with nothing to relay."""

    async def closing(self, input_tokens: int, output_tokens: int) -> list[str]:
        """The last frames of a whole answer (its ledger row is written already)."""

    async def failing(self, error: PlatformError) -> list[str]:
        """The frames that end a stream cut short: the dialect's failure, never its end."""


class HostedRelay(Relay, Protocol):
    """The relay of a dialect that offers hosted tools: their calls' frames too."""

    def calling(self, call: HostedCall) -> list[str]:
        """The frames of a hosted call about to be made."""

    def called(self, call: HostedCall) -> list[str]:
        """The frames of a hosted call made (its answer is on it)."""


class Translation(Protocol):
    """A dialect's request, translated onto an upstream endpoint of the alias."""

    route: str  #: the ledger's name for the route (the dialect)
    endpoint: str  #: the upstream endpoint: chat/completions or completions
    alias: str
    stream: bool
    #: The output bound the client asked for, and the field it is named by.
    requested_max_tokens: int | None
    max_tokens_field: str
    generations: int  #: answers generated, each up to the bound
    #: The shared tools the platform calls for the client between the model's rounds (its
    #: relay is then a `HostedRelay`).
    hosted: HostedTools | None

    def prompt(self) -> Prompt: ...

    def payload(self, max_tokens: int) -> dict[str, Any]:
        """The upstream request's body, bounded to `max_tokens`."""

    async def whole(
        self, upstream: dict[str, Any], input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        """The dialect's body for a whole answer."""

    def relay(self, id_: str) -> Relay: ...

    def new_id(self) -> str: ...

    def kept(self) -> KeptStreamOptions:
        """Whether and how its stream is kept for resumption."""


class OntoChat:
    """The common part of a dialect's `Translation` onto chat completions: one answer to a
    conversation of chat messages, with the dialect's options in chat's names."""

    endpoint = "chat/completions"
    generations = 1
    hosted: HostedTools | None = None

    def __init__(
        self, alias: str, stream: bool, requested_max_tokens: int | None,
        messages: list[dict[str, Any]], options: dict[str, Any],
    ) -> None:  # fmt: skip
        self.alias = alias
        self.stream = stream
        self.requested_max_tokens = requested_max_tokens
        self.messages = messages
        self._options = options

    def prompt(self) -> Prompt:
        return prompt_of(self.endpoint, {"messages": self.messages,
                                         "tools": self._options.get("tools")})  # fmt: skip

    def payload(self, max_tokens: int) -> dict[str, Any]:
        payload = {"model": self.alias, "messages": self.messages, "max_tokens": max_tokens,
                   **self._options}  # fmt: skip
        if self.stream:
            payload |= {"stream": True, "stream_options": {"include_usage": True}}
        return payload

    def kept(self) -> KeptStreamOptions:
        return KeptStreamOptions()
