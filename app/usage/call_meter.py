"""Metering one request: a check and a reservation before each model call, the row at the end.

A `CallMeter` rides along the chain as a LangChain callback handler (/v1 calls it directly).
Before every model call it refuses a model the tenant may not use (403), and makes sure the
request's reservation covers an upper bound of every call so far (the prompts' bytes +
max_tokens, in tokens and in dollars at each call's own price), reserving more if needed — a
refusal stops the call with a 429. It notes what each call produced and holds the upstream
streams still open; `finish` closes those, turns what was produced into exact token counts
(reported by the provider, else counted or estimated), settles the reservation and writes the
ledger row.

A model call is counted from the calls it made to deployments (`UpstreamCall`s, which the
dispatcher records in the call's account, app/providers/accounting.py): each with its own
prompt and output, so that an answer continued on a second deployment, or hedged, is billed for
every call that did work.
A model that reaches no deployment (a test's fake) is counted from what the callbacks saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from app.errors import Forbidden
from app.limits.admission import Admission
from app.limits.store import Ticket
from app.providers import MODEL_ALIAS_METADATA, AccountHolder, CallAccount
from app.tenants.models import Principal
from app.usage.counting import Prompt, TokenCounter, TokenSource, prompt_upper_bound
from app.usage.ledger import LedgerEntry, UsageLedger
from app.usage.pricing import PriceTable

_SOURCE_RANK = {"provider": 0, "counted": 1, "estimated": 2}


_ROLES = {"human": "user", "ai": "assistant"}


def as_prompt(messages: list[BaseMessage]) -> Prompt:
    return [(_ROLES.get(message.type, message.type), message.text) for message in messages]


def model_not_allowed(principal: Principal, alias: str) -> Forbidden:
    allowed = ", ".join(principal.tenant.allowed_models or [])
    return Forbidden(
        f"Tenant '{principal.tenant.id}' may not use model '{alias}'; allowed: {allowed}.",
        param="config.configurable.model",
        code="model_not_allowed",
    )


@dataclass
class ModelCall:
    alias: str | None
    prompt: Prompt
    bound: int  # the most tokens it can use
    cost_bound: float  # the most it can cost
    image_price: float = 0.0  # USD per image it makes
    output: list[str] = field(default_factory=list)
    usage: tuple[int, int, TokenSource] | None = None
    ended: bool = False
    started: float = field(default_factory=time.perf_counter)


Tally = tuple[str | None, int, int, TokenSource]  # alias, input and output tokens, source


@dataclass(frozen=True)
class MeterServices:
    """What every meter needs, built once at startup."""

    admission: Admission
    ledger: UsageLedger
    counter: TokenCounter
    prices: PriceTable
    local_aliases: frozenset[str]


class CallMeter(AsyncCallbackHandler, AccountHolder):
    """One admitted request's model calls: each is allow-listed and reserved for as it starts,
    and counted as it ends (a LangChain callback for the chains; called directly by /v1)."""

    raise_error = True  # a refused call or reservation must stop the model call
    run_inline = True  # ...before the call starts, in order

    def __init__(
        self,
        services: MeterServices,
        principal: Principal,
        ticket: Ticket,
        *,
        route: str,
        model: str | None,
        request_id: str,
        client_request_id: str | None,
    ) -> None:
        AccountHolder.__init__(self, CallAccount(principal.tenant.id, request_id))
        self._services = services
        self.principal = principal
        self.ticket = ticket
        self.tenant_id = principal.tenant.id
        self.route = route
        self.model = model
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.prompt: str | None = None  # a chain's prompt and its version, `<name>@<version>`
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self._calls: dict[object, ModelCall] = {}
        self._tallied: list[Tally] | None = None
        self.upstream_seconds = 0.0  # time spent in model calls

    def texts(self) -> dict[str, str]:
        """The prompts and completions of the request's model calls (for opt-in logging)."""
        calls = self._calls.values()
        return {
            "prompt": "\n".join(f"{role}: {text}" for call in calls for role, text in call.prompt),
            "completion": "".join(text for one in self.account.calls for text in one.output)
            or "\n".join("".join(call.output) for call in calls),
        }

    # --- callbacks -----------------------------------------------------------------------

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        invocation_params: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        alias = (metadata or {}).get(MODEL_ALIAS_METADATA, self.model)
        max_tokens = int((invocation_params or {}).get("max_tokens") or 0)
        await self.start_call(run_id, alias, as_prompt(messages[0]), max_tokens)

    async def start_call(
        self, call_id: object, alias: str | None, prompt: Prompt, max_tokens: int,
        images: int = 0, image_price: float = 0.0,
    ) -> ModelCall:  # fmt: skip
        """Note a model call about to start: refuse an alias the tenant may not use, and
        reserve more if the request's reservation cannot cover every call so far (`images`
        at `image_price` each, for a call that makes images)."""
        if alias is not None and not self.principal.may_use_model(alias):
            raise model_not_allowed(self.principal, alias)
        bound = prompt_upper_bound(prompt) + max_tokens
        call = self.start_admitted(call_id, alias, prompt, bound, images, image_price)
        tokens, cost = -self.ticket.tokens, -self.ticket.cost
        for one in self._calls.values():
            tokens, cost = tokens + one.bound, cost + one.cost_bound
        if tokens > 0 or cost > 0:
            admission = self._services.admission
            await admission.extend(self.principal, self.ticket, max(tokens, 0), max(cost, 0.0))
        return call

    def start_admitted(
        self, call_id: object, alias: str | None, prompt: Prompt, bound: int, images: int = 0,
        image_price: float = 0.0,
    ) -> ModelCall:  # fmt: skip
        """Note a model call the request was admitted for: its alias allowed, and `bound`
        tokens (its prompt's upper bound and its output's) reserved."""
        cost_bound = self._services.prices.upper_bound(alias, bound) + images * image_price
        call = ModelCall(alias, prompt, bound, cost_bound, image_price)
        self._calls[call_id] = call
        return call

    async def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._calls.get(run_id)
        if call is not None:
            self.add_output(call, token)

    def add_output(self, call: ModelCall, text: str) -> None:
        self.output_began()
        call.output.append(text)

    def output_began(self) -> None:
        """Output is going out (its time is the request's time to first token)."""
        if self.first_token is None:
            self.first_token = time.perf_counter()

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.end_call(run_id)
        if call is None:
            return
        generation = response.generations[0][0] if response.generations else None
        message = getattr(generation, "message", None)
        usage = getattr(message, "usage_metadata", None)
        if usage:
            call.usage = (usage["input_tokens"], usage["output_tokens"], "provider")
        if not call.output and generation is not None:
            call.output.append(generation.text)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.end_call(run_id)

    def end_call(self, call_id: object) -> ModelCall | None:
        call = self._calls.get(call_id)
        if call is not None and not call.ended:
            call.ended = True
            self.upstream_seconds += time.perf_counter() - call.started
        return call

    # --- the end of the request ----------------------------------------------------------

    def _tallies(self) -> list[Tally]:
        """What the request used: each call to a deployment that did work, as the provider
        reported it, else counted; models that reached no deployment (a test's fakes), from
        what the callbacks saw. Kept once every model call ended: counting is a tokenizer's
        work."""
        if self._tallied is not None:
            return self._tallied
        count = self._services.counter.count
        tallies: list[Tally] = []
        if self.account.calls:
            for one in self.account.calls:  # loops: a comprehension is a call in 3.11
                if one.usage is not None:
                    usage = one.usage
                    tallies.append((one.alias, usage.input_tokens, usage.output_tokens, "provider"))
                elif one.did_work:
                    tallies.append((one.alias, *count(one.local, one.prompt, "".join(one.output))))
        else:
            for call in self._calls.values():
                if call.usage is None and call.output:
                    local = call.alias in self._services.local_aliases
                    call.usage = count(local, call.prompt, "".join(call.output))
                if call.usage is not None:
                    tallies.append((call.alias, *call.usage))
        for call in self._calls.values():
            if not call.ended:
                return tallies
        self._tallied = tallies
        return tallies

    def usage(self) -> tuple[int, int, TokenSource] | None:
        """The request's tokens so far; None if no provider did work worth counting."""
        return _summed(self._tallies())

    def _images(self) -> tuple[int, float]:
        """The images made, and what they cost: only /v1's image routes make any, in the one
        model call of their request, at that call's price per image."""
        images = 0
        for one in self.account.calls:
            images += one.images
        if not images:
            return 0, 0.0
        price = next((call.image_price for call in self._calls.values() if call.image_price), 0.0)
        return images, images * price

    def _count(self) -> tuple[int, int, float, TokenSource | None, int]:
        tallies = self._tallies()
        prices = self._services.prices
        cost = 0.0
        for alias, used_in, used_out, _ in tallies:
            cost += prices.cost(alias, used_in, used_out)
        images, image_cost = self._images()
        input_tokens, output_tokens, source = _summed(tallies) or (0, 0, None)
        return input_tokens, output_tokens, cost + image_cost, source, images

    def _served(self) -> tuple[str | None, bool, bool]:
        """The deployments that did work, in order; whether an answer was continued, hedged."""
        names: dict[str, None] = {}
        roles = set()
        for one in self.account.calls:
            if one.did_work:
                names[one.deployment] = None
                roles.add(one.role)
        return ",".join(names)[:512] or None, "continuation" in roles, "hedge" in roles

    async def finish(self, status: int, interrupted: bool) -> LedgerEntry:
        """Count, settle the reservation and write the ledger row (run it shielded)."""
        ended = time.perf_counter()
        self.account.close_held()  # an upstream stream nobody closed ends with the request,
        for call_id in self._calls:  # and a call cut short with it
            self.end_call(call_id)
        admission = self._services.admission
        try:
            input_tokens, output_tokens, cost, source, images = self._count()
        except BaseException:
            await admission.settle(self.ticket, self.ticket.tokens, self.ticket.cost)
            raise
        await admission.settle(self.ticket, input_tokens + output_tokens, cost)
        deployments, continued, hedged = self._served()
        row = LedgerEntry(
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            tenant_id=self.principal.tenant.id,
            key_id=self.principal.key.id,
            route=self.route,
            model=self.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            token_source=source or "none",
            cost_usd=cost,
            images=images,
            deployments=deployments,
            continued=continued,
            hedged=hedged,
            prompt=self.prompt,
            latency_ms=(ended - self.started) * 1000,
            ttft_ms=(self.first_token - self.started) * 1000 if self.first_token else None,
            status=status,
            interrupted=interrupted,
            created_at=datetime.now(UTC),
        )
        await self._services.ledger.arecord(row)
        return row


def _summed(tallies: list[Tally]) -> tuple[int, int, TokenSource] | None:
    """Tokens in and out of `tallies`, and the least exact way one was obtained."""
    if not tallies:
        return None
    used_in = used_out = 0
    source: TokenSource = "provider"
    for _, tokens_in, tokens_out, how in tallies:
        used_in, used_out = used_in + tokens_in, used_out + tokens_out
        if _SOURCE_RANK[how] > _SOURCE_RANK[source]:
            source = how
    return used_in, used_out, source
