"""SQLModel tables of the Files and Batches API: uploaded files, batch jobs, their lines and chunks.

Timestamps are unix seconds (the API's own unit); leases are unix milliseconds. A batch's lines
are copied out of its input file when it is accepted, so workers on any machine need only the
database; each line keeps its result, which is what makes a retried chunk skip finished lines.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

_BIG = sa.BigInteger


class StoredFile(SQLModel, table=True):
    __tablename__ = "files"
    __table_args__ = (sa.Index("ix_files_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str | None = Field(default=None, max_length=40)
    key_id: str | None = Field(default=None, max_length=40)
    purpose: str = Field(max_length=32)  # batch (uploaded) | batch_output (written by a batch)
    filename: str = Field(max_length=255)
    size_bytes: int = Field(sa_column=sa.Column(_BIG, nullable=False))
    line_count: int = 0
    created_at: int = Field(sa_column=sa.Column(_BIG, nullable=False))


class FileBlob(SQLModel, table=True):
    """A file's bytes, apart from its metadata so that listings never read them."""

    __tablename__ = "file_blobs"

    file_id: str = Field(primary_key=True, max_length=40)
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class Batch(SQLModel, table=True):
    __tablename__ = "batches"
    __table_args__ = (
        sa.Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_batches_status", "status"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str | None = Field(default=None, max_length=40)
    key_id: str = Field(max_length=40)
    endpoint: str = Field(max_length=40)  # /v1/chat/completions | /v1/completions | /v1/embeddings
    input_file_id: str = Field(max_length=40)
    completion_window: str = Field(default="24h", max_length=8)
    status: str = Field(max_length=16)
    model: str = Field(default="", max_length=200)  # the lines' model when they share one
    principal: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    metadata_json: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    errors: list[dict[str, Any]] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    output_file_id: str | None = Field(default=None, max_length=40)
    error_file_id: str | None = Field(default=None, max_length=40)
    line_count: int = 0
    chunk_size: int = 0
    # Final figures, written when the batch ends (live ones are counted from its lines).
    completed: int = 0
    failed: int = 0
    cost_nanos: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    prompt_tokens: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    completion_tokens: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    worst_case_nanos: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    budget_hold: str = Field(default="none", max_length=8)  # held | checked | none
    created_at: int = Field(sa_column=sa.Column(_BIG, nullable=False))
    in_progress_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    expires_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    finalizing_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    completed_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    failed_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    expired_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    cancelling_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    cancelled_at: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    # Who is writing the output files (a lease, so a finaliser that died is replaced).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until_ms: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))


class BatchLine(SQLModel, table=True):
    """One request of a batch and, once it ran, its result."""

    __tablename__ = "batch_lines"
    __table_args__ = (
        sa.UniqueConstraint("batch_id", "custom_id", name="uq_batch_line_custom_id"),
        sa.Index("ix_batch_lines_state", "batch_id", "state"),
    )

    batch_id: str = Field(primary_key=True, max_length=40)
    line_no: int = Field(primary_key=True)  # 0-based position in the input file
    custom_id: str = Field(max_length=512)
    model: str = Field(max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # the request body, JSON
    state: str = Field(default="pending", max_length=12)  # pending | ok | error | cancelled | expired
    attempt: int = 0  # bumped (durably) before a deliberate retry; part of the request id
    status_code: int | None = None
    request_id: str | None = Field(default=None, max_length=64)
    response: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))  # body or error envelope, JSON
    cost_nanos: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    prompt_tokens: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    completion_tokens: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    finished_at_ms: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))


class BatchChunk(SQLModel, table=True):
    """A run of consecutive lines handed to one Celery task; leased by the worker running it."""

    __tablename__ = "batch_chunks"

    batch_id: str = Field(primary_key=True, max_length=40)
    chunk_no: int = Field(primary_key=True)
    first_line: int
    end_line: int  # exclusive
    done: bool = False
    holds: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))  # budget hold request ids
    owner: str | None = Field(default=None, max_length=64)
    lease_until_ms: int = Field(default=0, sa_column=sa.Column(_BIG, nullable=False, default=0))
    dispatched_at_ms: int | None = Field(default=None, sa_column=sa.Column(_BIG, nullable=True))
    dispatches: int = 0
