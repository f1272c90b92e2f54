"""OpenAI's Files and Batches API under /v1: tenant-scoped, authenticated like the hot routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.types import Message

from gateway.batches import files, finalize, runtime, service, store
from gateway.batches.config import batch_settings
from gateway.batches.jsonl import parse_input
from gateway.batches.paging import list_json
from gateway.batches.views import batch_json
from gateway.body import read_json
from gateway.deps import PrincipalDep, ServicesDep
from gateway.errors import APIError, invalid_request

READ_CHUNK = 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart framing and the purpose field around the file


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's own lifespan, once its services and pipeline exist.
    runtime.attach_gateway(app.state.services, app.state.pipeline)
    try:
        yield
    finally:
        runtime.detach_gateway()


router = APIRouter(prefix="/v1", lifespan=lifespan)


def _json(data: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _not_found(kind: str, ident: str) -> APIError:
    return APIError(404, f"No such {kind}: {ident}", code="not_found", param="id")


# -- files ------------------------------------------------------------------------------


@router.post("/files")
async def create_file(request: Request, principal: PrincipalDep, services: ServicesDep) -> Response:
    cfg = batch_settings(services.settings)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cfg.max_file_bytes + FORM_OVERHEAD:
        raise _too_large(cfg.max_file_bytes)
    # The body is counted as it arrives: without a Content-Length (chunked), the multipart parser
    # would otherwise store any amount before the file's size is known.
    form = await _body_limited(request, cfg.max_file_bytes + FORM_OVERHEAD, cfg.max_file_bytes).form(max_files=1, max_fields=8)
    try:
        upload, purpose = form.get("file"), form.get("purpose")
        if purpose not in files.UPLOAD_PURPOSES:
            raise invalid_request(f"purpose must be one of {', '.join(files.UPLOAD_PURPOSES)} (got {purpose!r}).", param="purpose")
        if not isinstance(upload, UploadFile):
            raise invalid_request("Send the file as the multipart field `file`.", param="file")
        data = await _read_limited(upload, cfg.max_file_bytes)
    finally:
        await form.close()
    parsed = await asyncio.to_thread(parse_input, data, cfg.max_lines, cfg.max_custom_id_chars)
    if parsed.errors:
        first = parsed.errors[0]
        more = f" ({len(parsed.errors) - 1} more lines have errors)" if len(parsed.errors) > 1 else ""
        raise invalid_request(f"{first.message}{more}", param=first.param, code=first.code)
    meta = await asyncio.to_thread(
        files.save_file, services.db, tenant_id=principal.tenant_id, key_id=principal.key_id, purpose=purpose,
        filename=upload.filename or "upload.jsonl", data=data, line_count=len(parsed.lines),
    )
    return _json(files.file_json(meta))


def _too_large(limit: int) -> APIError:
    return invalid_request(f"The file is larger than the limit of {limit} bytes; split it into several batches.", param="file", code="file_too_large")


def _body_limited(request: Request, max_body: int, file_limit: int) -> Request:
    """The same request, whose body stops with a 413-style file_too_large past `max_body` bytes."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_body:
                raise _too_large(file_limit)
        return message

    return Request(request.scope, receive)


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    parts, size = [], 0
    while chunk := await upload.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


@router.get("/files")
async def list_files(
    principal: PrincipalDep, services: ServicesDep, purpose: str | None = None, after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000, order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> Response:
    rows, more = await asyncio.to_thread(files.list_files, services.db, principal.tenant_id, purpose=purpose, after=after, limit=limit, order=order)
    return _json(list_json([files.file_json(f) for f in rows], more))


@router.get("/files/{file_id}")
async def get_file(file_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    meta = await asyncio.to_thread(files.get_file, services.db, principal.tenant_id, file_id)
    if meta is None:
        raise _not_found("File", file_id)
    return _json(files.file_json(meta))


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    data = await asyncio.to_thread(files.read_content, services.db, principal.tenant_id, file_id)
    if data is None:
        raise _not_found("File", file_id)
    return Response(data, media_type="application/octet-stream")


@router.delete("/files/{file_id}")
async def delete_file(file_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    if not await asyncio.to_thread(files.delete_file, services.db, principal.tenant_id, file_id):
        raise _not_found("File", file_id)
    return _json({"id": file_id, "object": "file", "deleted": True})


# -- batches ----------------------------------------------------------------------------


@router.post("/batches")
async def create_batch(request: Request, principal: PrincipalDep, services: ServicesDep) -> Response:
    create = service.parse_create(await read_json(request, 64 * 1024))
    meta = await asyncio.to_thread(files.get_file, services.db, principal.tenant_id, create.input_file_id)
    if meta is None:
        raise invalid_request(f"No such File object: {create.input_file_id}", param="input_file_id", code="file_not_found")
    if meta.purpose not in files.UPLOAD_PURPOSES:
        raise invalid_request(f"The file {meta.id} has purpose {meta.purpose!r}; a batch needs a file uploaded with purpose=batch.", param="input_file_id")
    content = await asyncio.to_thread(files.read_content, services.db, principal.tenant_id, meta.id)
    if content is None:
        raise invalid_request(f"No such File object: {create.input_file_id}", param="input_file_id", code="file_not_found")
    batch = await service.accept(services, principal, create, content, batch_settings(services.settings))
    return _json(batch_json(batch, None))


@router.get("/batches")
async def list_batches(principal: PrincipalDep, services: ServicesDep, after: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response:
    rows, more = await asyncio.to_thread(store.list_batches, services.db, principal.tenant_id, after, limit)
    live = await asyncio.to_thread(store.progress, services.db, [b.id for b in rows if b.status not in store.TERMINAL])
    return _json(list_json([batch_json(b, live.get(b.id)) for b in rows], more))


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    return _json(await _batch_view(services, principal.tenant_id, batch_id))


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    changed = await asyncio.to_thread(store.request_cancel, services.db, principal.tenant_id, batch_id)
    if not changed:
        batch = await asyncio.to_thread(store.get_batch, services.db, principal.tenant_id, batch_id)
        if batch is None:
            raise _not_found("batch", batch_id)
        if batch.status not in ("cancelling", "cancelled"):
            raise APIError(409, f"Cannot cancel a batch that is {batch.status}.", code="batch_not_cancellable")
    rt = runtime.gateway_runtime()
    if rt is not None:  # nothing running it: it ends now; else its chunks end it as they stop
        await finalize.maybe_finalize(rt, batch_id)
    return _json(await _batch_view(services, principal.tenant_id, batch_id))


async def _batch_view(services, tenant_id: str | None, batch_id: str) -> dict:  # noqa: ANN001 - Services
    batch = await asyncio.to_thread(store.get_batch, services.db, tenant_id, batch_id)
    if batch is None:
        raise _not_found("batch", batch_id)
    live = await asyncio.to_thread(store.progress, services.db, [batch.id]) if batch.status not in store.TERMINAL else {}
    return batch_json(batch, live.get(batch.id))
