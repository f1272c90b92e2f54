"""Sign in with an admin (or tenant-admin) key, and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from billing.accounts import find_key_by_secret
from billing.db import db_session
from web.auth import FormDep, ViewerDep, admin_key_usable, current_session, end_session, safe_next, signed_in_viewer
from web.config import PREFIX
from web.sessions import CSRF_FIELD, SessionData
from web.templating import pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _key_id_for(request: Request, secret: str) -> str | None:
    with db_session(request.app.state.services.db) as session:
        key = find_key_by_secret(session, secret)
        return key.id if admin_key_usable(key) else None


def _form_page(request: Request, session: SessionData, next_path: str, error: str | None = None, status: int = 200, notice: str | None = None) -> Response:
    response = pages(request).render(request, "login.html", status_code=status, csrf=session.csrf, next_path=next_path, error=error, notice=notice)
    request.app.state.web.codec.write(request, response, session)
    return response


@router.get("/login")
def login_form(request: Request, next: str = PREFIX, signed_out: bool = False) -> Response:
    if signed_in_viewer(request) is not None:
        return secure(RedirectResponse(safe_next(next), status_code=303))
    session = current_session(request)
    if session is None or session.key_id is not None:  # a sign-in whose key was revoked or expired ends here
        session = SessionData.anonymous()
    notice = "You are signed out." if signed_out else None
    return _form_page(request, session, safe_next(next), notice=notice)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    next_path = safe_next(str(form.get("next") or PREFIX))
    session = current_session(request)
    if session is None or not session.csrf_matches(_text(form.get(CSRF_FIELD))):
        # No valid form token (expired, or a forged cross-site post): a fresh form, no sign-in.
        return _form_page(request, SessionData.anonymous(), next_path, "The sign-in form expired. Please try again.", status=403)
    secret = _text(form.get("api_key")).strip()
    if not secret:
        return _form_page(request, session, next_path, "Enter an admin API key.", status=400)
    key_id = await run_in_threadpool(_key_id_for, request, secret)
    if key_id is None:
        return _form_page(request, session, next_path, "That key is not an active admin or tenant-admin key.", status=401)
    response = secure(RedirectResponse(next_path, status_code=303))
    request.app.state.web.codec.write(request, response, SessionData.signed_in(key_id))
    return response


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep, form: FormDep) -> Response:
    end_session(request.app.state.services.db, viewer.session_id, request.app.state.web.codec.max_age)
    response = secure(RedirectResponse(f"{PREFIX}/login?signed_out=1", status_code=303))
    request.app.state.web.codec.clear(request, response)
    return response


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
