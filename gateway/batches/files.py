"""Files kept in the database (metadata and bytes apart), so workers on any machine can read them."""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing.batch_models import FileBlob, StoredFile
from billing.db import db_session
from gateway.batches.paging import page, tenant_is

UPLOAD_PURPOSES = ("batch",)
OUTPUT_PURPOSE = "batch_output"


def new_file_id() -> str:
    """Time first (fixed-width hex milliseconds), so ids of one second still list in order."""
    return f"file-{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def file_row(*, tenant_id: str | None, key_id: str | None, purpose: str, filename: str, data: bytes, line_count: int) -> tuple[StoredFile, FileBlob]:
    meta = StoredFile(
        id=new_file_id(), tenant_id=tenant_id, key_id=key_id, purpose=purpose, filename=filename[:255],
        size_bytes=len(data), line_count=line_count, created_at=int(time.time()),
    )
    return meta, FileBlob(file_id=meta.id, data=data)


def save_file(engine: Engine, **fields: Any) -> StoredFile:
    meta, blob = file_row(**fields)
    with db_session(engine) as session:
        session.add(meta)
        session.flush()  # the metadata row first: a listing never shows a file without its bytes
        session.add(blob)
        session.commit()
    return meta


def get_file(engine: Engine, tenant_id: str | None, file_id: str) -> StoredFile | None:
    with db_session(engine) as session:
        return session.exec(select(StoredFile).where(StoredFile.id == file_id, tenant_is(StoredFile.tenant_id, tenant_id))).first()


def read_content(engine: Engine, tenant_id: str | None, file_id: str) -> bytes | None:
    with engine.connect() as conn:
        query = (
            sa.select(FileBlob.__table__.c.data)
            .join(StoredFile.__table__, StoredFile.__table__.c.id == FileBlob.__table__.c.file_id)
            .where(FileBlob.__table__.c.file_id == file_id, tenant_is(StoredFile.__table__.c.tenant_id, tenant_id))
        )
        return conn.execute(query).scalar()


def list_files(engine: Engine, tenant_id: str | None, *, purpose: str | None, after: str | None, limit: int, order: str) -> tuple[list[StoredFile], bool]:
    where = [tenant_is(StoredFile.tenant_id, tenant_id)]
    if purpose:
        where.append(StoredFile.purpose == purpose)
    with db_session(engine) as session:
        return page(session, StoredFile, where, after, limit, order)


def delete_file(engine: Engine, tenant_id: str | None, file_id: str) -> bool:
    with engine.begin() as conn:
        files = StoredFile.__table__
        gone = conn.execute(sa.delete(files).where(files.c.id == file_id, tenant_is(files.c.tenant_id, tenant_id))).rowcount
        if gone:
            conn.execute(sa.delete(FileBlob.__table__).where(FileBlob.__table__.c.file_id == file_id))
    return bool(gone)


def file_json(f: StoredFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "object": "file",
        "bytes": f.size_bytes,
        "created_at": f.created_at,
        "filename": f.filename,
        "purpose": f.purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
    }
