"""`genai tenants|keys|usage` manage the same database the server uses."""

from __future__ import annotations

import asyncio

import pytest

from app.cli import main
from tests.support.tenancy import build_platform

GENERATE = {"input": {"prompt": "Hi"}}


@pytest.fixture
def genai(monkeypatch, tmp_path, database, capsys):
    """Run `genai ARGS...` in-process against the test database; returns (code, out, err)."""
    monkeypatch.setenv("GENAI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GENAI_DATABASE_URL", database)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def test_a_key_created_on_the_command_line_works_and_revoking_it_stops_it(
    genai, make_settings, tmp_path, database
):
    assert genai("tenants", "create", "partner-a", "--rpm", "30", "--allowed-routes",
                 "generate,chat")[0] == 0  # fmt: skip
    code, out, _ = genai("keys", "create", "--tenant", "partner-a", "--name", "prod")
    assert code == 0
    key = out.strip().splitlines()[-1]  # the key is the last line
    assert key.startswith("gp-")
    settings = make_settings(auth_enabled=True, database_url=database, auth_cache_seconds=0.5)
    platform = build_platform(settings)
    async with platform.client(key) as client:
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 200
        assert (
            await client.post("/complete/invoke", json={"input": {"text": "x"}})
        ).status_code == 403
        key_id = key.split("-")[1]
        code, out, _ = genai("keys", "list", "--tenant", "partner-a")
        assert key_id in out and key.split("-")[2] not in out
        assert genai("keys", "revoke", key_id)[0] == 0
        # Another process revoked it: the server sees it once its cached record expires.
        await asyncio.sleep(0.6)
        assert (await client.post("/generate/invoke", json=GENERATE)).status_code == 401
    code, out, _ = genai("usage", "--tenant", "partner-a")
    assert code == 0
    assert "generate" in out and "1 requests" in out


def test_tenants_are_listed_and_updated(genai):
    genai("tenants", "create", "beta", "--name", "Beta app", "--budget-usd", "5")
    code, out, _ = genai("tenants", "update", "beta", "--tpm", "1000", "--budget-period", "day")
    assert code == 0
    code, out, _ = genai("tenants", "list")
    line = next(line for line in out.splitlines() if line.startswith("beta "))
    assert "Beta app" in line and "1000" in line and "day" in line and "5.0" in line


def test_command_line_errors_are_clear(genai):
    code, _, err = genai("tenants", "create", "Bad Name")
    assert code == 1 and "--id" in err and "pattern" in err
    code, _, err = genai("keys", "create", "--tenant", "nobody", "--name", "x")
    assert code == 1 and "No tenant 'nobody'" in err
    code, _, err = genai("keys", "revoke", "000000000000")
    assert code == 1 and "No key" in err


def test_usage_totals_every_row_not_the_first_ten_thousand(genai, make_settings, database):
    build_platform(make_settings(database_url=database)).stored_rows(10_050)
    code, out, _ = genai("usage")
    assert code == 0
    assert out.strip().splitlines()[-1] == (
        "10050 requests, 20100 input tokens, 30150 output tokens, $100.500000"
    )
    assert out.count("bulk-") == 0 and out.count("generate") == 10_050
