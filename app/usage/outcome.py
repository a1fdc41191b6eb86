"""What a request's calls to deployments amount to, for its ledger row: its tokens (summed, by
the least exact way one was counted), the deployments that worked and how, and what the answer
cache did for it."""

from __future__ import annotations

from dataclasses import dataclass

from app.providers import CallAccount, UpstreamCall
from app.usage.counting import TokenSource

_SOURCE_RANK = {"provider": 0, "counted": 1, "estimated": 2}

#: Alias, input and output tokens, how they were counted, and whether the cache answered.
Tally = tuple[str | None, int, int, TokenSource, bool]


@dataclass(frozen=True)
class Count:
    """What a request used, as its row says: its tokens (and how they were counted), what it
    costs, its images, the tokens that count toward its limits, and what the cache saved."""

    input_tokens: int
    output_tokens: int
    cost: float
    source: TokenSource | None
    images: int
    charged_tokens: int
    saved: float


def summed(tallies: list[Tally]) -> tuple[int, int, TokenSource] | None:
    """Tokens in and out of `tallies`, and the least exact way one was obtained."""
    if not tallies:
        return None
    used_in = used_out = 0
    source: TokenSource = "provider"
    for _, tokens_in, tokens_out, how, _ in tallies:
        used_in, used_out = used_in + tokens_in, used_out + tokens_out
        if _SOURCE_RANK[how] > _SOURCE_RANK[source]:
            source = how
    return used_in, used_out, source


def served(account: CallAccount) -> tuple[str | None, bool, bool]:
    """The deployments that did work, in order; whether an answer was continued, hedged."""
    names: dict[str, None] = {}
    roles = set()
    for one in account.calls:
        if one.did_work:
            names[one.deployment] = None
            roles.add(one.role)
    return ",".join(names)[:512] or None, "continuation" in roles, "hedge" in roles


def cache_outcome(account: CallAccount) -> tuple[str | None, str | None]:
    """What the answer cache did for the request (`hit`, `coalesced`, `partial` when it
    answered some of its calls, `miss`, `bypass` when the request said not to use it;
    None: not cacheable), and the request that paid for what it served."""
    served: list[UpstreamCall] = []
    worked = False
    for one in account.calls:  # a loop: a comprehension is a call in 3.11
        if one.cached is not None:
            served.append(one)
        elif one.did_work:
            worked = True
    if served:
        paid_by = served[0].paid_by or None
        if worked:
            return "partial", paid_by
        hits = all(one.cached == "hit" for one in served)
        return ("hit" if hits else "coalesced"), paid_by
    status = account.cache_status or ""  # what the cache did: its calls noted it
    return ("bypass" if status.startswith("fwd=request") else "miss"), None
