"""What a batch line tells the pipeline about itself, for routing to use.

Pipeline.call has no parameter for it yet, so the hint travels in a context variable set
around each line's call; a router can read `current_hint()` and, for batch work, prefer the
local engine and batched generation (throughput over latency).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchHint:
    batch_id: str
    custom_id: str
    prefer: str = "throughput"  # latency does not matter: batched generation is welcome
    allow_local: bool = True  # the local engine may take the line when routing allows it


_HINT: ContextVar[BatchHint | None] = ContextVar("tokenmill_batch_hint", default=None)


def current_hint() -> BatchHint | None:
    return _HINT.get()


def set_hint(hint: BatchHint | None) -> object:
    return _HINT.set(hint)


def reset_hint(token: object) -> None:
    _HINT.reset(token)  # type: ignore[arg-type]
