"""Typed dependencies: services built once at startup, kept on `app.state`."""

from typing import Annotated

from fastapi import Depends, Request

from app.providers.pool import ProviderPool
from app.storage.chat_history import ChatHistoryStore


def _providers(request: Request) -> ProviderPool:
    return request.app.state.providers


def _history(request: Request) -> ChatHistoryStore:
    return request.app.state.history


ProvidersDep = Annotated[ProviderPool, Depends(_providers)]
HistoryDep = Annotated[ChatHistoryStore, Depends(_history)]
