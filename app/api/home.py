"""`/`: the console (app/console/), for every caller: it signs in from its own page.
`/?token=<key>` trades a key for a browser session, as the console's sign-in form does."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api.deps import ServicesDep
from app.http.json_body import api_router
from app.tenants.auth import SESSION_COOKIE

CONSOLE = Path(__file__).resolve().parents[1] / "console"

router = api_router(include_in_schema=False)


@router.get("/")
async def home(request: Request, services: ServicesDep, token: str | None = None) -> Response:
    if token:
        principal = await services.tenants.aauthenticate(token)
        response = RedirectResponse("/", status_code=303)  # drop the key from the address bar
        response.set_cookie(
            SESSION_COOKIE,
            services.authenticator.session_cookie(principal),
            max_age=int(services.authenticator.session_seconds),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response
    return FileResponse(CONSOLE / "index.html", headers={"Cache-Control": "no-cache"})


def mount_console(app: FastAPI) -> None:
    """The console's scripts, styles and vendored libraries: public files, no data in them."""
    app.mount("/console", StaticFiles(directory=CONSOLE), name="console")
