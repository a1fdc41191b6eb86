"""`genai serve`: the HTTP server, as `make run` starts it."""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys
from pathlib import Path

from app.observability.logs import logging_config, skip_unused_record_fields
from app.server.graceful import GracefulServer
from app.server.transport import uvicorn_config
from app.settings import Settings, is_loopback


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(config)
    skip_unused_record_fields()
    from app.main import create_app

    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"genai-platform serving on {base}", flush=True)
    admin_key = app.state.services.local_admin_key
    if settings.auth_enabled and admin_key:
        where = settings.data_dir / "admin-key"
        print(f"Open {base}/ and sign in with the local admin key, kept in {where}", flush=True)
        if is_loopback(settings.host) and sys.stdout.isatty():
            # To the developer's terminal only: output that is captured is a log, and no log
            # line ever holds a key.
            print(f"  the local admin key: {admin_key}", flush=True)
    server_config = uvicorn_config(
        app, settings, log_config=config,
        timeout_graceful_shutdown=5,  # after the drain (GracefulServer), for what is left
    )  # fmt: skip
    GracefulServer(server_config, app.state.services.drain, settings.shutdown_grace_seconds).run()
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to listen on (GENAI_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (GENAI_PORT)")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)
