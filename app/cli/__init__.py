"""The `genai` command line: serve, and manage tenants, keys, usage, batches and the shared
tool servers in the database, and the answer cache the replicas share. Each module adds its
commands; this one reads the arguments and settings and runs the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from app.cli import records, serve, tenants, tool_servers
from app.cli.common import Command
from app.errors import PlatformError
from app.settings import CONFIG_FILE_VARIABLE, InvalidSettings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai", description="genai-platform")
    parser.add_argument("--config", type=Path, help=f"YAML settings file ({CONFIG_FILE_VARIABLE})")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (serve, tenants, records, tool_servers):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {key: value for key in ("host", "port") if (value := getattr(args, key, None))}
    try:
        settings = load_settings(args.config, **overrides)
        run: Command = args.run
        return run(settings, args)
    except InvalidSettings as exc:
        print(f"genai: {exc}", file=sys.stderr)
        return 2
    except (PlatformError, ValidationError) as exc:
        message = exc.message if isinstance(exc, PlatformError) else _first_error(exc)
        print(f"genai: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `genai usage | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1


def _first_error(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    field = ".".join(str(part) for part in problem["loc"])
    return f"--{field.replace('_', '-')}: {problem['msg']}"
