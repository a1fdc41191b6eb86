"""The kit for use cases: all a module of `chains/` may import from the platform.

    from app.use_cases import AsyncStep, ChainContext, UseCase, MaxWords, as_completed, ...

A use case declares `USE_CASE = UseCase(name, build)`; `build(context)` returns its runnable,
made from its prompt file (`context.text_chain(name)`) and the models the context selects.
Calls it makes at once go through `as_completed`, so none outlives its request.
"""

from app.schema import optional
from app.storage.chat_history import INTERRUPTED, SESSION_ID_PATTERN
from app.use_cases.fan_out import as_completed
from app.use_cases.keeping import keeper
from app.use_cases.kit import AsyncStep, ChainContext, MaxWords, UseCase, tenant_of
from app.use_cases.shared_tools import SharedTools

__all__ = [
    "INTERRUPTED",
    "SESSION_ID_PATTERN",
    "AsyncStep",
    "ChainContext",
    "MaxWords",
    "SharedTools",
    "UseCase",
    "as_completed",
    "keeper",
    "optional",
    "tenant_of",
]
