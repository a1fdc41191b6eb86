"""`genai tenants|keys|usage` manage the same database the server uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.main import create_app
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.tenancy import Platform, build_platform
from tests.support.upstream_config import fault_aliases

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


def test_guardrail_policies_are_set_on_the_command_line_for_tenants_and_keys(genai, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("request: {secret: block}\nresponse: {card: redact}\n")
    assert genai("tenants", "create", "gamma", "--guardrails", "{request: {email: mask}}")[0] == 0
    assert genai("tenants", "update", "gamma", "--guardrails", f"@{policy}")[0] == 0
    code, out, _ = genai("keys", "create", "--tenant", "gamma", "--name", "k",
                         "--guardrails", '{"request": {"email": "allow"}}')  # fmt: skip
    assert code == 0
    code, out, _ = genai("tenants", "list")
    line = next(line for line in out.splitlines() if line.startswith("gamma "))
    assert "'secret': 'block'" in line and "'card': 'redact'" in line and "email" not in line
    code, _, err = genai("tenants", "update", "gamma", "--guardrails", "{request: {mail: mask}}")
    assert code == 1 and "--guardrails" in err and "unknown category 'mail'" in err


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
        "10050 requests, 20100 input tokens, 30150 output tokens, $100.500000; "
        "0 answered by the cache, $0.000000 saved"
    )
    assert out.count("bulk-") == 0 and out.count("generate") == 10_050


def test_usage_piped_into_head_ends_quietly(make_settings, tmp_path):
    """`genai usage | head` closes the pipe early: no BrokenPipeError traceback."""
    build_platform(make_settings()).stored_rows(20_000)
    environment = {**os.environ, "GENAI_DATA_DIR": str(tmp_path)}
    environment.pop("GENAI_DATABASE_URL", None)
    genai = Path(sys.executable).with_name("genai")
    piped = subprocess.run(
        f"'{genai}' usage | head -n 2", shell=True, env=environment, capture_output=True,
        text=True, timeout=120, executable="/bin/bash",
    )  # fmt: skip
    assert len(piped.stdout.splitlines()) == 2
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_a_listing_where_there_is_no_database_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GENAI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GENAI_DATABASE_URL", raising=False)
    for command in (["tenants", "list"], ["keys", "list"], ["usage"]):
        assert main(command) == 1
        error = capsys.readouterr().err
        assert f"No database at {tmp_path / 'var' / 'genai.db'}" in error, error
        assert "GENAI_DATA_DIR" in error
    assert not (tmp_path / "var" / "genai.db").exists(), "a listing creates no database"


def test_a_listing_names_the_database_it_read(genai, database):
    assert genai("tenants", "create", "partner-a")[0] == 0
    code, _, err = genai("tenants", "list")
    assert code == 0
    assert err.startswith("database: ") and ("genai.db" in err or "postgresql" in err)


def test_batches_are_listed_shown_and_cancelled_on_the_command_line(genai, make_settings,
                                                                     database):  # fmt: skip
    platform = build_platform(make_settings(database_url=database))
    row = {"id": "batch_0001", "tenant_id": "partner-a", "key_id": "k1",
           "endpoint": "/v1/embeddings", "input_file_id": "file-1", "completion_window": "24h",
           "status": "in_progress", "ending": "completed", "created_at": 1_700_000_000,
           "expires_at": 1_700_086_400, "total": 2, "completed": 0, "failed": 0,
           "turn_at": 0.0}  # fmt: skip
    asyncio.run(platform.services.batches.create(row, [("a", {}), ("b", {})]))
    code, out, _ = genai("batches", "list")
    line = next(line for line in out.splitlines() if line.startswith("batch_0001"))
    assert code == 0 and "partner-a" in line and "in_progress" in line
    code, out, _ = genai("batches", "show", "batch_0001")
    assert code == 0 and '"request_counts"' in out and '"total": 2' in out
    code, out, _ = genai("batches", "cancel", "batch_0001")
    assert code == 0 and "is cancelling" in out
    code, out, _ = genai("batches", "show", "batch_0001")
    assert '"failed": 2' in out, "its lines not run are reported"
    code, _, err = genai("batches", "show", "batch_none")
    assert code == 1 and "No batch 'batch_none'" in err


async def test_a_tenants_cached_answers_are_purged_on_the_command_line(
    genai, monkeypatch, make_settings, database, upstream
):
    """With Redis, the cache the replicas share; without it, the server's own (its API)."""
    code, _, err = genai("cache", "purge", "--tenant", "local")
    assert code == 1 and "DELETE /admin/tenants/local/cache" in err
    shared = {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}
    settings = make_settings(database_url=database, models=fault_aliases(upstream, "ok"),
                             default_model="ok", **shared)  # fmt: skip
    platform = Platform(create_app(settings))
    body = {"model": "ok", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0}
    async with platform.client() as client:
        await client.post("/v1/chat/completions", json=body)
        monkeypatch.setenv("GENAI_REDIS_URL", shared["redis_url"])
        monkeypatch.setenv("GENAI_REDIS_PREFIX", shared["redis_prefix"])
        code, _, err = genai("cache", "purge", "--tenant", "nobody")
        assert code == 1 and "No tenant 'nobody'" in err
        code, out, _ = await asyncio.to_thread(genai, "cache", "purge", "--tenant", "local")
        again = await client.post("/v1/chat/completions", json=body)
    assert code == 0 and "Purged 1 cached answers of tenant local." in out
    assert again.headers["cache-status"] == "genai; fwd=miss; stored"


def test_tool_servers_are_registered_listed_and_removed_and_tenants_granted_them(
    genai, make_settings, tmp_path, database
):
    added = ("tool-servers", "add", "crm", "https://crm.internal/mcp",
             "--header", "Authorization: Bearer crm-secret", "--timeout", "5")  # fmt: skip
    code, out, _ = genai(*added)
    assert code == 0 and "crm" in out and "crm-secret" not in out
    code, out, _ = genai("tool-servers", "list")
    assert "https://crm.internal/mcp" in out and "['Authorization']" in out
    assert "crm-secret" not in out
    assert genai("tool-servers", "add", "crm", "https://crm.internal/mcp")[0] == 1, "taken"
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal: exit status 2
        genai("tool-servers", "add", "hr", "https://hr/mcp", "--header", "no-colon")
    assert refused.value.code == 2
    assert genai("tenants", "create", "sales", "--allowed-tools", "crm.*,hr.lookup",
                 "--tool-rpm", "30")[0] == 0  # fmt: skip
    code, _, err = genai("tenants", "update", "sales", "--allowed-tools", "not a tool")
    assert code == 1 and "allowed-tools" in err
    settings = make_settings(database_url=database)
    platform = Platform(create_app(settings))
    tenant = platform.services.tenants.get_tenant("sales")
    assert (tenant.allowed_tools, tenant.tool_rpm) == (["crm.*", "hr.lookup"], 30)
    [server] = platform.services.tool_servers.registered()
    assert server.headers == {"Authorization": "Bearer crm-secret"}, "sealed, then opened"
    assert genai("tool-servers", "remove", "crm")[0] == 0
    assert genai("tool-servers", "remove", "crm")[0] == 1
