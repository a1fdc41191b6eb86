"""The edge: every response, errors and bugs included, carries the platform's headers, and a
failure never costs the client its keep-alive connection."""

from __future__ import annotations

import json
import socket

from fastapi import FastAPI

from tests.support.servers import serving


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
