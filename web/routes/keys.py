"""API keys: list, create (the secret is shown once), revoke, and set the allowed models."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from billing import accounts
from billing.db import db_session
from billing.models import ApiKey, Tenant
from web.auth import Forbidden, FormDep, PageNotFound, Viewer, ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("API keys", "/keys")
CREATABLE_ROLES = ("user", "tenant_admin")  # admin keys come from the CLI or TOKENMILL_ADMIN_KEY only


def key_status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and (key.expires_at if key.expires_at.tzinfo else key.expires_at.replace(tzinfo=UTC)) <= datetime.now(UTC):
        return "expired"
    return "active"


def _page(request: Request, viewer: Viewer, tenant: str | None = None, status: int = 200, error: str | None = None, notice: str | None = None) -> Response:
    scope = viewer.tenant_scope(tenant)
    with db_session(request.app.state.services.db) as session:
        keys = accounts.list_keys(session, scope)  # scope None (a global admin's 'All'): the admin keys too
        tenants = {t.id: t for t in accounts.list_tenants(session) if viewer.is_admin or t.id == viewer.tenant_id}
    return pages(request).render(
        request, "keys.html", viewer, status_code=status, keys=keys, tenants=tenants, scope=scope, status_of=key_status,
        models=request.app.state.services.registry.names, roles=CREATABLE_ROLES, error=error, notice=notice,
    )


# Notices after a redirect are chosen from this table, never echoed from the URL.
NOTICES = {"revoked": "Key {prefix}… revoked.", "models": "Allowed models of {prefix}… saved."}


@router.get("/keys")
def keys_page(request: Request, viewer: ViewerDep, tenant: str | None = None, done: str | None = None, key: str | None = None) -> Response:
    notice = None
    if done in NOTICES and key:
        with db_session(request.app.state.services.db) as session:
            changed = session.get(ApiKey, key)
        if changed is not None and (viewer.is_admin or changed.tenant_id == viewer.tenant_id):
            notice = NOTICES[done].format(prefix=changed.prefix)
    return _page(request, viewer, tenant, notice=notice)


def _allowed_models(request: Request, form: FormData) -> list[str]:
    known = set(request.app.state.services.registry.names)
    chosen = [m for m in form.getlist("allowed_models") if isinstance(m, str)]
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f"Unknown models: {', '.join(unknown)}.")
    return chosen


def _expiry(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("The expiry must be a date (YYYY-MM-DD).") from None
    if day <= datetime.now(UTC):
        raise ValueError("The expiry must lie in the future.")
    return day


@router.post("/keys")
def create_key(request: Request, viewer: ViewerDep, form: FormDep) -> Response:
    tenant_id = viewer.tenant_scope(str(form.get("tenant_id") or "") or None)
    role = str(form.get("role") or "user")
    name = str(form.get("name") or "").strip()[:200]
    try:
        if tenant_id is None:
            raise ValueError("Choose the key's tenant.")
        if role not in CREATABLE_ROLES:
            raise ValueError(f"The role must be one of {', '.join(CREATABLE_ROLES)}.")
        allowed = _allowed_models(request, form)
        expires_at = _expiry(str(form.get("expires") or "").strip())
        with db_session(request.app.state.services.db) as session:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                raise ValueError("No such tenant.")
            created = accounts.create_key(session, tenant, name=name, role=role, allowed_models=allowed, expires_at=expires_at)
    except (ValueError, accounts.AccountError) as exc:
        return _page(request, viewer, status=400, error=str(exc))
    return pages(request).render(request, "key_created.html", viewer, status_code=201, key=created.key, secret=created.secret, tenant=tenant)


def _owned_key(session: Session, viewer: Viewer, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or (not viewer.is_admin and key.tenant_id != viewer.tenant_id):
        raise PageNotFound(f"No key {key_id}.")
    if key.role == "admin" and not viewer.is_admin:
        raise Forbidden("Only a global admin can change admin keys.")
    return key


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, viewer: ViewerDep, form: FormDep) -> Response:
    services = request.app.state.services
    with db_session(services.db) as session:
        key = _owned_key(session, viewer, key_id)
        if key.id == viewer.key_id:
            return _page(request, viewer, status=400, error="This is the key you are signed in with; sign in with another admin key to revoke it.")
        key = accounts.revoke_key(session, key.id)
    services.keys.forget(key.key_hash)  # this worker stops accepting it at once; others within the key cache's TTL
    return secure(RedirectResponse(f"{PREFIX}/keys?done=revoked&key={key.id}", status_code=303))


@router.post("/keys/{key_id}/models")
def set_models(request: Request, key_id: str, viewer: ViewerDep, form: FormDep) -> Response:
    services = request.app.state.services
    try:
        allowed = _allowed_models(request, form)
    except ValueError as exc:
        return _page(request, viewer, status=400, error=str(exc))
    with db_session(services.db) as session:
        key = accounts.update_key(session, _owned_key(session, viewer, key_id), allowed_models=allowed)
    services.keys.forget(key.key_hash)
    return secure(RedirectResponse(f"{PREFIX}/keys?done=models&key={key.id}", status_code=303))
