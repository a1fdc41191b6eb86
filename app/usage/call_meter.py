"""Metering one request: a check and a reservation before each model call, the row at the end.

/v1 calls a `CallMeter` directly; a chain reaches it through its run's callbacks, by the thin
adapter in meter_callbacks.py.
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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.cache import NO_DIRECTIVES, cache_directives
from app.errors import Forbidden
from app.guardrails import client_policy
from app.limits.admission import Admission
from app.limits.store import Ticket
from app.providers import AccountHolder, CallAccount
from app.tenants.models import Principal
from app.usage.counting import Prompt, TokenCounter, TokenSource, prompt_upper_bound
from app.usage.ledger import LedgerEntry, UsageLedger
from app.usage.outcome import Count, Tally, cache_outcome, served, summed
from app.usage.pricing import PriceTable


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
    ended: bool = False
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class BatchLine:
    """The batch line a request runs (/v1/batches): its row names them, it pays the batch
    price, and it waits behind interactive calls for shared capacity."""

    batch_id: str
    custom_id: str


@dataclass(frozen=True)
class MeterServices:
    """What every meter needs, built once at startup."""

    admission: Admission
    ledger: UsageLedger
    counter: TokenCounter
    prices: PriceTable
    local_aliases: frozenset[str]


class CallMeter(AccountHolder):
    """One admitted request's model calls: each is allow-listed and reserved for as it starts,
    and counted as it ends (called by /v1; by the chains through `MeterCallbacks`)."""

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
        batch: BatchLine | None = None,
        cache_control: str | None = None,
        via: str | None = None,
        tool: str | None = None,
    ) -> None:
        tenant_mode = principal.tenant.cache
        account = CallAccount(
            principal.tenant.id, request_id, background=batch is not None,
            cache=NO_DIRECTIVES if cache_control is tenant_mode is None
            else cache_directives(cache_control, tenant_mode),
            guardrails=client_policy(principal.tenant.guardrails, principal.key.guardrails),
        )  # fmt: skip
        AccountHolder.__init__(self, account)
        self.batch = batch
        self.via = via
        self.tool = tool
        #: A shared tool call's arguments and result, as JSON: logged only with `log_prompts`.
        self.tool_exchange = ("", "")
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
        """The prompts and completions of the request's model calls (for opt-in logging);
        withheld where guardrails acted, as they may hold what was masked or redacted. A
        shared tool call's: its arguments and result."""
        if self.tool is not None:
            return dict(zip(("arguments", "result"), self.tool_exchange, strict=True))
        if self.account.guard_counts:
            return {"prompt": "(withheld: guardrails acted)", "completion": ""}
        calls = self._calls.values()
        return {
            "prompt": "\n".join(f"{role}: {text}" for call in calls for role, text in call.prompt),
            "completion": "".join(text for one in self.account.calls for text in one.output),
        }

    # --- callbacks -----------------------------------------------------------------------

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
        prices, batch = self._services.prices, self.batch is not None
        cost_bound = prices.upper_bound(alias, bound, batch) + images * image_price
        call = self.start_admitted(call_id, alias, prompt, bound, cost_bound, image_price)
        tokens, cost = -self.ticket.tokens, -self.ticket.cost
        for one in self._calls.values():
            tokens, cost = tokens + one.bound, cost + one.cost_bound
        if tokens > 0 or cost > 0:
            admission = self._services.admission
            await admission.extend(self.principal, self.ticket, max(tokens, 0), max(cost, 0.0))
        return call

    def start_admitted(
        self, call_id: object, alias: str | None, prompt: Prompt, bound: int,
        cost_bound: float, image_price: float = 0.0,
    ) -> ModelCall:  # fmt: skip
        """Note a model call the request was admitted for: its alias allowed, and `bound`
        tokens (its prompt's upper bound and its output's) and `cost_bound` reserved."""
        call = ModelCall(alias, prompt, bound, cost_bound, image_price)
        self._calls[call_id] = call
        return call

    def model_call(self, call_id: object) -> ModelCall | None:
        return self._calls.get(call_id)

    def output_began(self) -> None:
        """Output is going out (its time is the request's time to first token)."""
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def end_call(self, call_id: object) -> ModelCall | None:
        call = self._calls.get(call_id)
        if call is not None and not call.ended:
            call.ended = True
            self.upstream_seconds += time.perf_counter() - call.started
        return call

    # --- the end of the request ----------------------------------------------------------

    def _tallies(self) -> list[Tally]:
        """What the request used: each call to a deployment that did work, as the provider
        reported it, else counted. Kept once every model call ended: counting is a tokenizer's
        work."""
        if self._tallied is not None:
            return self._tallied
        count = self._services.counter.count
        tallies: list[Tally] = []
        for one in self.account.calls:  # loops: a comprehension is a call in 3.11
            cached = one.cached is not None
            if one.usage is not None:
                usage = one.usage
                tallies.append((one.alias, usage.input_tokens, usage.output_tokens,
                                "provider", cached))  # fmt: skip
            elif one.did_work:
                used = count(one.local, one.prompt, "".join(one.output))
                tallies.append((one.alias, *used, cached))
        for call in self._calls.values():
            if not call.ended:
                return tallies
        self._tallied = tallies
        return tallies

    def usage(self) -> tuple[int, int, TokenSource] | None:
        """The request's tokens so far; None if no provider did work worth counting."""
        return summed(self._tallies())

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

    def _count(self) -> Count:
        tallies = self._tallies()
        prices, batch = self._services.prices, self.batch is not None
        cost = saved = 0.0
        charged = 0  # tokens that count toward limits: the cache's answers use none
        for alias, used_in, used_out, _, cached in tallies:
            paid = prices.cost(alias, used_in, used_out, batch, cached)
            if cached:
                saved += prices.cost(alias, used_in, used_out, batch) - paid
            else:
                charged += used_in + used_out
            cost += paid
        images, image_cost = self._images()
        input_tokens, output_tokens, source = summed(tallies) or (0, 0, None)
        return Count(input_tokens, output_tokens, cost + image_cost, source, images, charged,
                     saved)  # fmt: skip

    async def finish(self, status: int, interrupted: bool) -> LedgerEntry:
        """Count, settle the reservation and write the ledger row (run it shielded)."""
        ended = time.perf_counter()
        self.account.close_held()  # an upstream stream nobody closed ends with the request,
        if self.account.owed:  # once a call it shares with others has ended too,
            await self.account.settled()
        for call_id in self._calls:  # and a call cut short with it
            self.end_call(call_id)
        admission = self._services.admission
        try:
            counted = self._count()
        except BaseException:
            await admission.settle(self.ticket, self.ticket.tokens, self.ticket.cost)
            raise
        await admission.settle(self.ticket, counted.charged_tokens, counted.cost)
        deployments, continued, hedged = served(self.account)
        cache, paid_by = cache_outcome(self.account) if self.account.cache_status else (None, None)
        row = LedgerEntry(
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            tenant_id=self.principal.tenant.id,
            key_id=self.principal.key.id,
            route=self.route,
            model=self.model,
            input_tokens=counted.input_tokens,
            output_tokens=counted.output_tokens,
            token_source=counted.source or "none",
            cost_usd=counted.cost,
            images=counted.images,
            deployments=deployments,
            continued=continued,
            hedged=hedged,
            prompt=self.prompt,
            latency_ms=(ended - self.started) * 1000,
            ttft_ms=(self.first_token - self.started) * 1000 if self.first_token else None,
            status=status,
            interrupted=interrupted,
            created_at=datetime.now(UTC),
            batch_id=self.batch.batch_id if self.batch else None,
            custom_id=self.batch.custom_id if self.batch else None,
            cache=cache,
            saved_usd=counted.saved,
            paid_by=paid_by,
            guardrails=dict(self.account.guard_counts) or None,
            via=self.via,
            tool=self.tool,
        )
        await self._services.ledger.arecord(row)
        return row
