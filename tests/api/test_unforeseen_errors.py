"""The edge: every response, errors and bugs included, carries the platform's headers, and a
failure never costs the client its keep-alive connection; a failure that is nobody's fault is
one the client may retry."""

from __future__ import annotations

import json
import shutil
import socket

from fastapi import FastAPI

from app.main import create_app
from tests.conftest import ECHO_MODELS
from tests.support.echo_upstream import echo_services
from tests.support.servers import serving
from tests.support.tenancy import Platform


def _exchange(sock: socket.socket, path: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection; the response's status, headers and body."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: platform\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    body = b""
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_a_bug_is_a_json_500_with_the_platforms_headers_and_the_connection_lives_on(
    echo_app: FastAPI,
):
    async def broken() -> None:
        raise RuntimeError("a bug the platform did not foresee")

    echo_app.add_api_route("/broken", broken)
    with serving(echo_app) as url, socket.create_connection(url[7:].split(":")) as sock:
        status, headers, body = _exchange(sock, "/broken")
        assert status == 500
        error = json.loads(body)["error"]
        assert (error["type"], error["code"]) == ("internal_error", "internal_error")
        assert "RuntimeError" in error["message"]
        assert len(headers["x-request-id"]) == 32
        assert headers["server-timing"].startswith("platform;dur=")
        assert headers.get("connection") != "close"
        # The same connection answers the next request.
        status, _, body = _exchange(sock, "/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"})


async def test_a_database_that_stops_answering_is_a_503_the_client_may_retry(
    make_settings, tmp_path
):
    """Not the client's fault and not a bug: PostgreSQL out of connections, a lost SQLite file."""
    folder = tmp_path / "db"
    settings = make_settings(
        auth_enabled=True, database_url=f"sqlite:///{folder / 'genai.db'}", models=ECHO_MODELS
    )
    platform = Platform(create_app(services=echo_services(settings)))
    key = platform.key(platform.tenant("acme").id)
    platform.services.engine.dispose()
    shutil.rmtree(folder)  # the next connection cannot open the database
    async with platform.client(key) as client:
        response = await client.get("/v1/models")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "state_unavailable"
