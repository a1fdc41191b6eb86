"""The chat model of each model alias, built once at startup from the settings.

Every alias is a `RoutedChatModel` over the platform's one `ModelRouter`: its deployments are
tried in order, each retried with backoff on connect errors, timeouts, 429 and 5xx, and one
whose circuit is open is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from app.providers.routed_model import RoutedChatModel
from app.providers.upstream import ModelRouter

#: A model alias's chat model (a `RoutedChatModel`, or a test's fake).
ChatRunnable = Runnable[Any, BaseMessage]


def build_alias_models(aliases: Mapping[str, Any], router: ModelRouter) -> dict[str, ChatRunnable]:
    return {alias: RoutedChatModel(alias=alias, router=router) for alias in aliases}
