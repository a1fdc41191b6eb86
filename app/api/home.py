"""`/`: a page linking the playgrounds; `/?token=<key>` trades a key for a browser session."""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import ServicesDep, current_principal
from app.http.json_body import api_router
from app.tenants.auth import SESSION_COOKIE

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
    principal = await current_principal(request)
    links = "".join(
        f'<li><a href="/{name}/playground/">/{name}</a></li>' for name in services.use_cases
    )
    return HTMLResponse(
        f"<!doctype html><title>genai-platform</title><h1>genai-platform</h1>"
        f"<p>Signed in as tenant <b>{principal.tenant.id}</b> (key {principal.key.id}).</p>"
        f"<h2>Playgrounds</h2><ul>{links}</ul><p><a href='/docs'>API documentation</a></p>"
    )
