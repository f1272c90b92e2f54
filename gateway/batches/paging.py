"""Cursor pagination as OpenAI lists do it: `after` an object id, newest first by default."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

T = TypeVar("T")


def tenant_is(column: Any, tenant_id: str | None) -> sa.ColumnElement[bool]:
    """Objects of one tenant; keys without a tenant (the global admin) share the NULL space."""
    return column.is_(None) if tenant_id is None else column == tenant_id


def page(session: Session, model: type[T], where: list[sa.ColumnElement[bool]], after: str | None, limit: int, order: str = "desc") -> tuple[list[T], bool]:
    """Up to `limit` rows after the row with id `after`, ordered by (created_at, id); and whether more follow."""
    created, ident = model.created_at, model.id  # type: ignore[attr-defined]
    query = select(model).where(*where)
    if after:
        anchor = session.exec(select(created).where(ident == after, *where)).first()
        if anchor is not None:
            if order == "desc":
                query = query.where(sa.or_(created < anchor, sa.and_(created == anchor, ident < after)))
            else:
                query = query.where(sa.or_(created > anchor, sa.and_(created == anchor, ident > after)))
    ordering = (created.desc(), ident.desc()) if order == "desc" else (created.asc(), ident.asc())
    rows = list(session.exec(query.order_by(*ordering).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def list_json(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
