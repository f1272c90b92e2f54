"""The Batch object as OpenAI shapes it, with live request counts while it runs."""

from __future__ import annotations

from typing import Any

from billing.batch_models import Batch
from billing.money import format_usd
from gateway.batches.store import TERMINAL, Progress


def figures(b: Batch, live: Progress | None) -> Progress:
    """Final figures once the batch ended; counted from its lines before."""
    if b.status in TERMINAL:
        return Progress(b.completed, b.failed, b.cost_nanos, b.prompt_tokens, b.completion_tokens)
    return live or Progress()


def batch_json(b: Batch, live: Progress | None) -> dict[str, Any]:
    f = figures(b, live)
    return {
        "id": b.id,
        "object": "batch",
        "endpoint": b.endpoint,
        "model": b.model or None,
        "errors": {"object": "list", "data": b.errors} if b.errors else None,
        "input_file_id": b.input_file_id,
        "completion_window": b.completion_window,
        "status": b.status,
        "output_file_id": b.output_file_id,
        "error_file_id": b.error_file_id,
        "created_at": b.created_at,
        "in_progress_at": b.in_progress_at,
        "expires_at": b.expires_at,
        "finalizing_at": b.finalizing_at,
        "completed_at": b.completed_at,
        "failed_at": b.failed_at,
        "expired_at": b.expired_at,
        "cancelling_at": b.cancelling_at,
        "cancelled_at": b.cancelled_at,
        "request_counts": {"total": b.line_count, "completed": f.completed, "failed": f.failed},
        "metadata": b.metadata_json,
        "usage": {
            "input_tokens": f.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": f.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": f.prompt_tokens + f.completion_tokens,
        },
        # Tokenmill's additions: what the batch cost so far and what was held for it.
        "tokenmill": {"cost_usd": format_usd(f.cost_nanos), "worst_case_usd": format_usd(b.worst_case_nanos), "budget_hold": b.budget_hold},
    }
