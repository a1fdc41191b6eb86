"""`genai tenants|keys`: client apps, their limits and policies, and their keys."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from app.cli.common import comma_list, given, table, tenant_service
from app.settings import Settings
from app.tenants.models import KeyCreate, TenantChanges, TenantCreate

KEY_LIMITS = ("rpm", "tpm", "max_concurrent", "ipm")
TENANT_FIELDS = ("name", *KEY_LIMITS, "budget_usd", "budget_period", "allowed_routes",
                 "allowed_models", "cache", "guardrails", "allowed_tools", "tool_rpm")  # fmt: skip


def _tenants_create(settings: Settings, args: argparse.Namespace) -> int:
    tenant = tenant_service(settings).create_tenant(
        TenantCreate(id=args.id, **given(args, TENANT_FIELDS))
    )
    print(table([tenant.model_dump()], ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _tenants_list(settings: Settings, args: argparse.Namespace) -> int:
    tenants = [
        tenant.model_dump() for tenant in tenant_service(settings, reading=True).list_tenants()
    ]
    print(table(tenants, ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _tenants_update(settings: Settings, args: argparse.Namespace) -> int:
    changes = TenantChanges(**given(args, TENANT_FIELDS))
    tenant = tenant_service(settings).update_tenant(args.id, changes)
    print(table([tenant.model_dump()], ["id", "name", *TENANT_FIELDS[1:]]))
    return 0


def _keys_create(settings: Settings, args: argparse.Namespace) -> int:
    expires_at = (
        datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    )
    spec = KeyCreate(
        name=args.name, admin=args.admin, expires_at=expires_at,
        **given(args, (*KEY_LIMITS, "guardrails")),
    )  # fmt: skip
    created = tenant_service(settings).create_key(args.tenant, spec)
    print(f"Created key {created.id} for tenant {created.tenant_id}; it is shown only once:")
    print(created.key)
    return 0


def _keys_list(settings: Settings, args: argparse.Namespace) -> int:
    keys = [
        key.model_dump() for key in tenant_service(settings, reading=True).list_keys(args.tenant)
    ]
    print(table(keys, ["id", "tenant_id", "name", "admin", *KEY_LIMITS, "expires_at",
                        "revoked_at"]))  # fmt: skip
    return 0


def _keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    key = tenant_service(settings).revoke_key(args.key_id)
    print(f"Revoked key {key.id} of tenant {key.tenant_id}.")
    return 0


def _policy(value: str) -> dict[str, Any]:
    """A guardrail policy written inline (JSON or YAML), or `@file` holding one."""
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    policy = yaml.safe_load(text)
    if not isinstance(policy, dict):
        raise argparse.ArgumentTypeError("a policy is a mapping, e.g. '{request: {email: mask}}'")
    return policy


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    parser.add_argument("--max-concurrent", type=int, help="requests at once")
    parser.add_argument("--ipm", type=int, help="images per minute")
    parser.add_argument("--guardrails", type=_policy, metavar="POLICY",
                        help="its guardrail policy, as JSON or YAML or @file, e.g. "
                        "'{request: {email: mask, secret: block}}'; '{}': none")  # fmt: skip


def _add_tenant_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    _add_limits(parser)
    parser.add_argument("--budget-usd", type=float, help="budget per period, in USD")
    parser.add_argument("--budget-period", choices=["day", "month"])
    parser.add_argument("--allowed-routes", type=comma_list, help="comma-separated; default: all")
    parser.add_argument("--allowed-models", type=comma_list, help="comma-separated; default: all")
    parser.add_argument("--cache", choices=["exact", "semantic", "off"],
                        help="its own answer cache mode; default: its aliases'")  # fmt: skip
    parser.add_argument("--allowed-tools", type=comma_list,
                        help="shared tools it may call on /mcp: server.tool or server.*, "
                        "comma-separated; default: none")  # fmt: skip
    parser.add_argument("--tool-rpm", type=int, help="shared tool calls per minute")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = commands.add_parser("tenants", help="client apps").add_subparsers(
        dest="action", required=True
    )
    create = tenants.add_parser("create", help="add a tenant")
    create.add_argument("id", help="lowercase slug, e.g. partner-a")
    _add_tenant_fields(create)
    create.set_defaults(run=_tenants_create)
    tenants.add_parser("list", help="list tenants").set_defaults(run=_tenants_list)
    update = tenants.add_parser("update", help="change a tenant")
    update.add_argument("id")
    _add_tenant_fields(update)
    update.set_defaults(run=_tenants_update)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    key_create = keys.add_parser("create", help="add a key (printed once, as the last line)")
    key_create.add_argument("--tenant", required=True)
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--admin", action="store_true", help="may use /admin")
    key_create.add_argument("--expires-in-days", type=float)
    _add_limits(key_create)
    key_create.set_defaults(run=_keys_create)
    key_list = keys.add_parser("list", help="list keys (never their secrets)")
    key_list.add_argument("--tenant")
    key_list.set_defaults(run=_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_keys_revoke)
