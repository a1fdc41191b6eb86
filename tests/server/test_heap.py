"""The garbage collector is set for serving once per process (app/server/heap.py): an app that
starts after another in the same process pins nothing that was alive at its startup."""

from __future__ import annotations

import gc
import weakref

from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import ECHO_MODELS
from tests.support.echo_upstream import echo_services


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.itself = self


def started_and_stopped(make_settings) -> None:
    settings = make_settings(models=ECHO_MODELS)
    with TestClient(create_app(services=echo_services(settings))):
        pass  # the lifespan ran: startup, then shutdown


def test_an_app_started_after_another_leaves_the_heap_collectable(make_settings):
    started_and_stopped(make_settings)  # the process's first app (or a later one)
    held = Node()  # alive while the next app starts, dropped after
    watched = weakref.ref(held)
    started_and_stopped(make_settings)
    del held
    gc.collect()
    assert watched() is None, "the second app's startup froze an object it does not own"
