"""`/`: the console (app/console/), for every caller: it signs in from its own page, which
posts a key to `/signin` (me.py). The page may be framed by no other site, and runs only its
own scripts (a Content-Security-Policy)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from app.http.json_body import api_router

CONSOLE = Path(__file__).resolve().parents[1] / "console"

#: The console's own scripts and styles only; images it shows may be data: URLs; no framing.
CONSOLE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = api_router(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def home() -> Response:
    return FileResponse(CONSOLE / "index.html", headers=CONSOLE_HEADERS)


def mount_console(app: FastAPI) -> None:
    """The console's scripts, styles and vendored libraries: public files, no data in them."""
    app.mount("/console", StaticFiles(directory=CONSOLE), name="console")
