"""Rendering pages: the jinja2 environment, the navigation, and the headers every page carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from web import formatting
from web.auth import Viewer
from web.config import PREFIX
from web.sessions import CSRF_FIELD

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Scripts and styles come only from the package itself: no inline script, no CDN.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # under PREFIX, e.g. "/usage"
    admin_only: bool = False  # shown to global admins only

    @property
    def href(self) -> str:
        return PREFIX + self.path


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class Pages:
    def __init__(self, nav: list[NavItem]):
        self.nav = nav
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.filters.update(formatting.FILTERS)
        self.templates.env.globals.update(prefix=PREFIX, csrf_field=CSRF_FIELD)

    def nav_for(self, viewer: Viewer | None) -> list[NavItem]:
        if viewer is None:
            return []
        return [item for item in self.nav if viewer.is_admin or not item.admin_only]

    def render(self, request: Request, name: str, viewer: Viewer | None = None, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.update(viewer=viewer, nav=self.nav_for(viewer), current=request.url.path)
        context.setdefault("tz", viewer.timezone if viewer else "UTC")
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        secure(response)
        return response


def pages(request: Request) -> Pages:
    return request.app.state.web.pages
