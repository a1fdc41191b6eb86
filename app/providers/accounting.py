"""What every provider call is charged to: the request's usage meter, by its abstract name.

The request's metering (app/usage/lifecycle.py) is made current for exactly the request's
lifetime (`charging`); a chat model of the platform asks `current_account()` before it calls a
provider, and is refused unless the request was admitted and its ledger row not yet written.
So no route, batch item or chain step can reach a model unmetered: forgetting the meter is a
loud failure, not free usage. The account is the model call's own: the meter names the call
about to be made in the current context (`calling`) as it admits it, so each call to a
deployment is counted in exactly that model call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from app.errors import PlatformError
from app.providers.calls import UpstreamCall


class Closable(Protocol):
    def close(self) -> None: ...


class CallAccount(Protocol):
    """One model call of an admitted request, as providers see it."""

    tenant_id: str
    request_id: str  # the platform's id of the request the call is part of

    def hold(self, resource: Closable) -> None:
        """Keep `resource` (an open upstream stream) until the request ends, then close it."""

    def record(self, call: UpstreamCall) -> None:
        """Count `call` (one call to one deployment) in this model call's usage."""


class RequestAccount(Protocol):
    """An admitted request's meter: an account per model call (by the call's id)."""

    def for_call(self, call_id: object) -> CallAccount: ...


class Charges(Protocol):
    """A request's metering: its account while it is admitted and open, else None."""

    def open_account(self) -> RequestAccount | None: ...


_CHARGES: ContextVar[Charges | None] = ContextVar("genai_charges", default=None)
_CALL: ContextVar[object] = ContextVar("genai_model_call", default=None)


def calling(call_id: object) -> None:
    """The model call made next in this context (and tasks it starts) is `call_id`."""
    _CALL.set(call_id)


@contextmanager
def charging(charges: Charges) -> Iterator[None]:
    """Charge the model calls made in this context (and tasks it starts) to `charges`."""
    token = _CHARGES.set(charges)
    try:
        yield
    finally:
        _CHARGES.reset(token)


def current_account() -> CallAccount:
    """The account the model call of this context is charged to; a bug (500) if none."""
    charges = _CHARGES.get()
    account = charges.open_account() if charges is not None else None
    if account is None:
        raise PlatformError(
            "A model call was attempted outside an admitted request; it was refused.",
            code="unmetered_model_call",
        )
    return account.for_call(_CALL.get())
