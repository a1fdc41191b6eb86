"""Fixtures shared by every test: settings in a temporary folder, apps over fake or real parts."""

from __future__ import annotations

import asyncio
import functools
import gc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies import models as fastapi_dependency_models
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from langchain_core.runnables import utils as langchain_runnable_utils
from sqlalchemy import Engine
from starlette.applications import Starlette

from app.main import create_app
from app.providers.http import HttpPool
from app.settings import Settings
from app.storage import database as storage_database
from tests.support.databases import database_url
from tests.support.echo_upstream import echo_model, echo_services
from tests.support.fault_upstream import create_fault_upstream, running_fault_upstream
from tests.support.servers import serving
from tests.support.tool_server import Upstream, crm_server

MakeSettings = Callable[..., Settings]


def pytest_configure(config: pytest.Config) -> None:
    """The test process's collector, set for a suite that builds an app or two per test, each
    alive for the test: left as it was, it walked the whole heap 39 times in 100 s of the
    suite, a fifth of that time. Full collections 10 times rarer save a tenth of the wall
    time, for some 300 MB more at the peak."""
    gc.set_threshold(10_000, 20, 100)


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings isolated in tmp_path; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path)
        overrides.setdefault("auth_enabled", False)  # tests of auth turn it on
        return Settings(**overrides)

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL: each test using it runs on SQLite and on PostgreSQL."""
    return database_url(request.param, tmp_path)


ECHO_MODELS = {"local": echo_model("local"), "other": echo_model("other")}


@pytest.fixture
def echo_app(make_settings: MakeSettings) -> FastAPI:
    """The platform with every model alias answered by the echo upstream."""
    return mounted(create_app(services=echo_services(make_settings(models=ECHO_MODELS))))


def mounted(app: FastAPI) -> FastAPI:
    """The app with its use cases' routes mounted, as a server has them once it started (they
    load after startup): for a test that reads the routes themselves, from outside an event
    loop."""
    asyncio.run(app.state.use_cases.done())
    return app


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every API route the app serves, those of included routers too (FastAPI keeps those
    out of `app.routes`), with its full path, methods and dependencies."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://platform")


@pytest.fixture
async def echo_client(echo_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(echo_app) as client:
        yield client


@pytest.fixture
def echo_server(echo_app: FastAPI) -> Iterator[str]:
    """The echo platform on a loopback port, for tests that need a real connection."""
    with serving(echo_app) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    """The fault-injecting upstream (tests/support/fault_upstream.py): one per test module."""
    return create_fault_upstream()


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    """Its /v1 base URL, served on loopback."""
    with running_fault_upstream(upstream_app) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """A real MCP server that requires its credential (tests/support/tool_server.py): one
    child process per test module."""
    with crm_server(tmp_path_factory.mktemp("crm")) as served:
        yield served


#: Libraries' module-level caches keyed by callables: FastAPI's (whether an endpoint or a
#: dependency is a coroutine or a generator, 4,096 entries each) and LangChain's
#: (`get_function_nonlocals`, 256). A test's app puts its endpoints' closures and its history
#: store's bound methods there, and with them its whole services graph (engines, runnables,
#: pydantic models). One app per process, as in production, is a handful of entries.
_CALLABLE_CACHES = (fastapi_dependency_models, langchain_runnable_utils)


@pytest.fixture(autouse=True)
def _forget_finished_apps() -> Iterator[None]:
    """Each test's apps are freed when it ends, so the heap stays the size of one test's:
    without this, the suite's finished apps reached 800,000 objects by mid-suite, and each
    full collection of them paused the process (and every server thread in it) for over a
    second, in the middle of tests that time answers. With it, about 150,000 and 0.1 s."""
    yield
    for module in _CALLABLE_CACHES:
        for cached in vars(module).values():
            if isinstance(cached, functools._lru_cache_wrapper):
                cached.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_sse_exit_event() -> None:
    """sse-starlette 1.x keeps one module-global Event bound to the first event loop that used
    it; tests run servers on several loops (pytest's and server threads'), so reset it."""
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit_event = None


@pytest.fixture(autouse=True)
def _dispose_database_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Apps driven through ASGITransport never run their lifespan, which disposes the database
    engine: dispose each engine a test made, or finished tests hold PostgreSQL's connections
    (100 here) until replicas started later are refused ("too many clients")."""
    engines: list[Engine] = []
    create = storage_database.create_engine

    def tracked(*args: Any, **kwargs: Any) -> Engine:
        engines.append(create(*args, **kwargs))
        return engines[-1]

    monkeypatch.setattr(storage_database, "create_engine", tracked)
    yield
    for engine in engines:
        engine.dispose()


@pytest.fixture(autouse=True)
async def _close_provider_pools(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Apps driven through ASGITransport never run their lifespan, which closes the aiohttp
    pool to the providers: close each pool a test opened (a later call opens a new one)."""
    pools: list[HttpPool] = []
    init = HttpPool.__init__

    def tracked(pool: HttpPool, *args: Any, **kwargs: Any) -> None:
        init(pool, *args, **kwargs)
        pools.append(pool)

    monkeypatch.setattr(HttpPool, "__init__", tracked)
    yield
    for pool in pools:
        await pool.aclose()
