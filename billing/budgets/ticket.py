"""A request's admission: what it reserved where, to be settled (or released) exactly once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from billing.budgets.definitions import BudgetDef
from billing.budgets.store import Charge, Held
from billing.ratelimit.buckets import Bucket


@dataclass
class Ticket:
    request_id: str
    candidates: list[Any]  # the deployments to try, in order (rate-limited ones dropped)
    charges: list[Charge] = field(default_factory=list)
    budgets: list[BudgetDef] = field(default_factory=list)  # aligned with charges
    period_labels: list[str] = field(default_factory=list)  # aligned with charges
    run_id: str | None = None
    reserved_nanos: int = 0
    reserved_tokens: int = 0
    token_buckets: list[Bucket] = field(default_factory=list)  # refunded the unused estimate at settlement
    tpm_estimate: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    output_bound_set: bool = False  # admission lowered or set the call's max tokens upstream
    gen: str = ""
    created: float = field(default_factory=time.monotonic)
    done: bool = False

    @property
    def active(self) -> bool:
        """Whether settlement has anything to do."""
        return bool(self.charges or self.token_buckets)

    def held(self) -> Held:
        return Held(self.request_id, tuple(c.counter_id for c in self.charges), self.reserved_nanos, self.reserved_tokens)
