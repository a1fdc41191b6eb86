"""The transport's limits, over real sockets: header size and count, slow senders."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.settings import Settings
from tests.support.servers import serving

HEAD = b"GET /health HTTP/1.1\r\nHost: platform\r\n"


@pytest.fixture
def platform_url(echo_app: FastAPI, make_settings) -> Iterator[str]:
    settings: Settings = make_settings(
        max_header_bytes=16_384, max_headers=50,
        header_timeout_seconds=1.0, body_timeout_seconds=1.0,
    )  # fmt: skip
    with serving(echo_app, settings) as url:
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def answer_within(sock: socket.socket, seconds: float) -> bool:
    """Has the server sent something within `seconds`? (Left unread.)"""
    sock.settimeout(seconds)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except TimeoutError:
        return False
    finally:
        sock.settimeout(10)


def refusal(raw: bytes) -> tuple[int, dict, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)["error"]


def test_an_8_mb_header_is_refused_with_431_before_it_is_read(platform_url):
    with connect(platform_url) as sock:
        started = time.monotonic()
        sock.sendall(HEAD + b"X-Big: " + b"a" * 8_000_000 + b"\r\n\r\n")
        status, headers, error = refusal(read_all(sock))
    assert (status, error["code"]) == (431, "headers_too_large")
    assert "16384 bytes" in error["message"]
    assert headers["connection"] == "close" and len(headers["x-request-id"]) == 32
    assert headers["server-timing"].startswith("platform;dur=")
    assert time.monotonic() - started < 5


def test_too_many_headers_are_refused_with_431(platform_url):
    with connect(platform_url) as sock:
        sock.sendall(HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(50_000)) + b"\r\n")
        status, _, error = refusal(read_all(sock))
    assert (status, error["code"]) == (431, "headers_too_large")


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_408(platform_url):
    with connect(platform_url) as sock:
        started = time.monotonic()
        sock.sendall(HEAD)
        for _ in range(50):  # slowloris: a byte now and then, never the end of the headers
            sock.sendall(b"X")
            if answer_within(sock, 0.2):
                break
        answered = time.monotonic() - started
        assert refusal(read_all(sock))[0] == 408
    assert answered < 2.0  # the 1 s limit, not the sender's pace


def test_a_connection_that_says_nothing_is_closed(platform_url):
    with connect(platform_url) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
    assert time.monotonic() - started < 2.5


def test_a_body_that_never_arrives_closes_the_connection(platform_url):
    with connect(platform_url) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /generate/invoke HTTP/1.1\r\nHost: platform\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        read_all(sock)
    assert time.monotonic() - started < 2.5


def test_150_slow_senders_are_all_let_go_and_others_are_served(platform_url):
    sockets = [connect(platform_url) for _ in range(150)]
    for sock in sockets:
        sock.sendall(HEAD)
    started = time.monotonic()
    closed = []

    def drain(sock: socket.socket) -> None:
        read_all(sock)
        closed.append(time.monotonic() - started)

    threads = [threading.Thread(target=drain, args=(sock,)) for sock in sockets]
    for thread in threads:
        thread.start()
    with connect(platform_url) as sock:  # meanwhile, a client that sends its request at once
        sock.sendall(HEAD + b"Connection: close\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 200")
    for thread in threads:
        thread.join(timeout=10)
    for sock in sockets:
        sock.close()
    assert len(closed) == 150 and max(closed) < 3.0


def test_a_normal_request_and_keep_alive_are_unaffected(platform_url):
    with connect(platform_url) as sock:
        for _ in range(3):
            sock.sendall(HEAD + b"X-Normal: " + b"v" * 1000 + b"\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert len(sock.recv(length)) == length
