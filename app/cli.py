"""The `genai` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from app.settings import CONFIG_FILE_VARIABLE, InvalidSettings, load_settings


def _serve(args: argparse.Namespace) -> int:
    overrides = {key: value for key in ("host", "port") if (value := getattr(args, key))}
    try:
        settings = load_settings(args.config, **overrides)
    except InvalidSettings as exc:
        print(f"genai: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from app.main import create_app

    app = create_app(settings)
    print(f"genai-platform serving on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai", description="genai-platform")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to listen on (GENAI_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (GENAI_PORT)")
    serve.add_argument("--config", type=Path, help=f"YAML settings file ({CONFIG_FILE_VARIABLE})")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
