"""`mount(app, settings)`: adds the admin pages, their static files and their error pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from web.auth import CSRFRejected, Forbidden, PageNotFound, SignInRequired, sign_in_url, signed_in_viewer
from web.config import PREFIX, WebConfig, session_secret
from web.routes import page_modules
from web.sessions import SessionCodec
from web.templating import Pages, secure

STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class WebState:
    config: WebConfig
    codec: SessionCodec
    pages: Pages


def mount(app: FastAPI, settings: Any) -> None:
    """Serve the admin UI under /admin on `app` (the gateway's FastAPI application)."""
    config = WebConfig(secret=session_secret(settings))
    modules = page_modules()
    for module in modules:
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="admin-static")
    nav = [module.NAV for module in modules if getattr(module, "NAV", None) is not None]
    app.state.web = WebState(config=config, codec=SessionCodec(config.secret, config.session_max_age), pages=Pages(nav))
    _install_error_pages(app)


def _is_page(request: Request) -> bool:
    """A page of the admin UI (HTML), not its JSON API or static files."""
    path = request.url.path
    inside = path == PREFIX or path.startswith(PREFIX + "/")
    return inside and not path.startswith((f"{PREFIX}/api/", f"{PREFIX}/static/")) and path != f"{PREFIX}/api"


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        # After signing in, go back to the page asked for; a form post is not replayed.
        target = exc.next_path if request.method == "GET" else PREFIX
        return secure(RedirectResponse(sign_in_url(target), status_code=303))

    async def error_page(request: Request, status: int, title: str, message: str) -> Response:
        viewer = await run_in_threadpool(signed_in_viewer, request)
        return request.app.state.web.pages.render(request, "error.html", viewer, status_code=status, title=title, message=message)

    @app.exception_handler(CSRFRejected)
    async def _csrf(request: Request, _exc: CSRFRejected) -> Response:
        return await error_page(request, 403, "Form rejected", "This form was not sent from this page (its security token is missing or stale). Go back, reload the page and try again.")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return await error_page(request, 403, "Not allowed", str(exc))

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        return await error_page(request, 404, "Not found", str(exc))

    # A bad query value or an unknown path under /admin is a page too; elsewhere, the API's envelope.
    json_validation = app.exception_handlers[RequestValidationError]
    json_http = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(RequestValidationError)
    async def _bad_query(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await json_validation(request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return await error_page(request, 400, "Bad request", f"{where}: {first['msg']}" if where else str(first["msg"]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request):
            return await json_http(request, exc)
        title = "Not found" if exc.status_code == 404 else "Request refused"
        return await error_page(request, exc.status_code, title, str(exc.detail))
