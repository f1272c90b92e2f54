"""Who is looking: the signed-in admin key behind a session, and the checks every page runs.

A global admin sees every tenant; a tenant admin sees only its own, and every query is
scoped through `Viewer.tenant_scope`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote, unquote

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import FormData

from billing.db import db_session
from billing.models import ApiKey, Tenant
from billing.session_models import EndedAdminSession
from web.config import PREFIX
from web.sessions import CSRF_FIELD, SessionData, session_id_of

ADMIN_ROLES = ("admin", "tenant_admin")


class SignInRequired(Exception):
    def __init__(self, next_path: str = PREFIX):
        super().__init__("sign-in required")
        self.next_path = next_path


class Forbidden(Exception):
    """The viewer may not see or change this (a tenant admin reaching past its tenant)."""


class PageNotFound(Exception):
    pass


class CSRFRejected(Exception):
    pass


@dataclass(frozen=True)
class Viewer:
    key_id: str
    key_name: str
    role: str
    tenant_id: str | None
    tenant_name: str | None
    timezone: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def session_id(self) -> str:
        return session_id_of(self.csrf)

    def tenant_scope(self, requested: str | None = None) -> str | None:
        """The tenant a query is limited to: what a global admin asked for (None = all),
        always the viewer's own tenant for a tenant admin."""
        if self.is_admin:
            return requested or None
        if requested and requested != self.tenant_id:
            raise Forbidden("A tenant admin can only see its own tenant.")
        return self.tenant_id


def admin_key_usable(key: ApiKey | None) -> bool:
    if key is None or key.revoked_at is not None or key.role not in ADMIN_ROLES:
        return False
    return key.expires_at is None or _aware(key.expires_at) > datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def viewer_for(session: Session, key: ApiKey, csrf: str) -> Viewer:
    tenant = session.get(Tenant, key.tenant_id) if key.tenant_id else None
    return Viewer(
        key_id=key.id,
        key_name=key.name or key.prefix,
        role=key.role,
        tenant_id=key.tenant_id,
        tenant_name=tenant.name if tenant else None,
        timezone=tenant.timezone if tenant else "UTC",
        csrf=csrf,
    )


def safe_next(path: str | None) -> str:
    """Only a path inside the admin UI: never another site (no open redirect), and no dot
    segment or empty one, plain or percent-encoded, that a browser would resolve out of it."""
    inside = path == PREFIX or path.startswith((PREFIX + "/", PREFIX + "?")) if path else False
    if not inside or "\\" in path:
        return PREFIX
    segments = unquote(path.split("?", 1)[0]).split("/")[1:]
    if any(s in ("", ".", "..") for s in segments[:-1]) or segments[-1] in (".", ".."):
        return PREFIX
    return path


def sign_in_url(next_path: str) -> str:
    return f"{PREFIX}/login?next={quote(safe_next(next_path), safe='/')}"


def current_session(request: Request) -> SessionData | None:
    return request.app.state.web.codec.read(request)


def signed_in_viewer(request: Request) -> Viewer | None:
    """The viewer the session cookie names, while its key is usable and it has not signed out."""
    data = current_session(request)
    if data is None or data.key_id is None:
        return None
    with db_session(request.app.state.services.db) as session:
        key = session.get(ApiKey, data.key_id)
        if not admin_key_usable(key) or session.get(EndedAdminSession, data.session_id) is not None:
            return None
        return viewer_for(session, key, data.csrf)


def current_viewer(request: Request) -> Viewer:
    """Dependency of every page: the signed-in viewer, or a redirect to the sign-in page."""
    viewer = signed_in_viewer(request)
    if viewer is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def end_session(db: Engine, ended: str, max_age: int) -> None:
    """Record the session `ended` (its id) as signed out until its cookie would have expired;
    drop rows past that."""
    now = datetime.now(UTC)
    with db_session(db) as session:
        session.execute(sa.delete(EndedAdminSession).where(EndedAdminSession.expires_at < now))
        session.merge(EndedAdminSession(session_id=ended, expires_at=now + timedelta(seconds=max_age)))
        session.commit()


async def checked_form(request: Request, viewer: ViewerDep) -> FormData:
    """Dependency of every POST: the parsed form, once its CSRF token matched the session's."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not SessionData(csrf=viewer.csrf).csrf_matches(submitted if isinstance(submitted, str) else None):
        raise CSRFRejected()
    return form


FormDep = Annotated[FormData, Depends(checked_form)]
