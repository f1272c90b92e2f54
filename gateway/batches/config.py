"""Batch settings: `batches:` in the config file, or TOKENMILL_BATCHES__* variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

COMPLETION_WINDOWS = {"24h": 24 * 3600}


class BatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENMILL_BATCHES__", extra="forbid")

    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, description="largest file POST /v1/files accepts")
    max_lines: int = Field(default=50_000, ge=1, description="most requests in one batch")
    max_custom_id_chars: int = Field(default=512, ge=1)
    chunk_size: int = Field(default=250, ge=1, description="lines per Celery task (a few times line_concurrency: a chunk's tail runs below it)")
    line_concurrency: int = Field(default=64, ge=1, description="lines in flight per running chunk")
    lease_seconds: float = Field(default=30.0, gt=0, description="a chunk whose worker stops renewing it is redone after this")
    sweep_seconds: float = Field(default=5.0, gt=0, description="how often each worker looks for stalled, cancelled and expired batches")
    stall_seconds: float = Field(default=60.0, gt=0, description="a batch without progress for this long has its waiting chunks sent again")
    max_line_attempts: int = Field(default=4, ge=1, description="tries of a line refused by an upstream's rate limit before it fails (the tenant's own limits pace the batch instead, as their Retry-After says)")
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    hold_budget: bool = Field(default=True, description="reserve the batch's worst case on its budgets when it is accepted")


def batch_settings(settings: Any) -> BatchSettings:
    return settings.batches
