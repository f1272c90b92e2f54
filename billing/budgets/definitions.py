"""Budget definitions: managed in SQL, loaded into an in-memory book for the hot path."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from billing.budget_models import Budget
from billing.budgets.webhook_url import WebhookURLError, check_webhook_url
from billing.db import db_session
from billing.keys import new_id
from billing.models import ApiKey, Tenant, utcnow
from billing.money import usd_to_nanos
from billing.periods import PERIODS

ON_EXCEED = ("refuse", "clamp")
# Ceilings that keep every counter inside a 64-bit column (and exact in Redis' Lua doubles for tokens).
MAX_LIMIT_NANOS = 10**18  # $1,000,000,000
MAX_LIMIT_TOKENS = 10**15
EVERY_RUN = "*"
MAX_RUN_ID_CHARS = 128
_NO_CONTROL = dict.fromkeys([*range(32), 127])


def clean_run_id(raw: str | None) -> str | None:
    """A run id as the ledger and the budget counters both keep it: no control characters (the
    counter stores use one as a separator; PostgreSQL text holds no NUL), at most
    MAX_RUN_ID_CHARS characters; None when nothing is left."""
    cleaned = (raw or "").translate(_NO_CONTROL)[:MAX_RUN_ID_CHARS]
    return cleaned or None


class BudgetError(ValueError):
    """A budget request that cannot be carried out (bad limits, unknown key, ...)."""


class OperatorWall(PermissionError):
    """A tenant admin reached for a budget or rate limit the operator set on its tenant."""


@dataclass(frozen=True)
class BudgetDef:
    """A budget as the hot path sees it (a plain frozen copy of the row)."""

    id: str
    tenant_id: str
    key_id: str | None
    run_id: str | None
    model: str | None
    limit_nanos: int | None
    limit_tokens: int | None
    period: str
    soft_fraction: float | None
    on_exceed: str
    alert_webhook: str | None = None
    set_by_operator: bool = False

    @classmethod
    def from_row(cls, b: Budget) -> BudgetDef:
        return cls(b.id, b.tenant_id, b.key_id, b.run_id, b.model, b.limit_nanos, b.limit_tokens, b.period, b.soft_fraction, b.on_exceed,
                   b.alert_webhook, b.set_by_operator)

    @property
    def per_run(self) -> bool:
        return self.run_id == EVERY_RUN

    def applies(self, key_id: str | None, run_id: str | None, model: str | None) -> bool:
        if self.key_id is not None and self.key_id != key_id:
            return False
        if self.run_id is not None and (run_id is None or (self.run_id != EVERY_RUN and self.run_id != run_id)):
            return False
        return self.model is None or self.model == model

    def counter_id(self, period_label: str, run_id: str | None) -> str:
        """Counters are per budget and period (and per run for '*'): a new period is a new counter.
        Run ids are taken as clean_run_id leaves them: the counter stores use a control character as a separator."""
        base = f"{self.id}:{period_label}"
        return f"{base}:{clean_run_id(run_id) or ''}" if self.per_run else base

    @property
    def soft_nanos(self) -> int | None:
        if self.soft_fraction is None or self.limit_nanos is None:
            return None
        return int(self.limit_nanos * self.soft_fraction)

    @property
    def soft_tokens(self) -> int | None:
        if self.soft_fraction is None or self.limit_tokens is None:
            return None
        return int(self.limit_tokens * self.soft_fraction)

    def describe(self) -> str:
        parts = [f"{self.period} budget {self.id}"]
        if self.key_id:
            parts.append(f"key {self.key_id}")
        if self.run_id:
            parts.append("each agent run" if self.per_run else f"run {self.run_id}")
        if self.model:
            parts.append(f"model {self.model}")
        return ", ".join(parts)


def scope_string(tenant_id: str, key_id: str | None, run_id: str | None, model: str | None) -> str:
    return "|".join((tenant_id, key_id or "", run_id or "", model or ""))


def _validate(session: Session, tenant_id: str, key_id: str | None, run_id: str | None, limit_nanos: int | None, limit_tokens: int | None, period: str, soft: float | None, on_exceed: str) -> None:
    if session.get(Tenant, tenant_id) is None:
        raise BudgetError(f"no tenant {tenant_id!r}")
    if key_id and run_id:
        raise BudgetError("a budget is scoped to a key or to a run, not both")
    if key_id:
        key = session.get(ApiKey, key_id)
        if key is None or key.tenant_id != tenant_id:
            raise BudgetError(f"no key {key_id!r} in this tenant")
    if run_id is not None and not (1 <= len(run_id) <= 128):
        raise BudgetError("run id must be 1-128 characters ('*' = every run)")
    if limit_nanos is None and limit_tokens is None:
        raise BudgetError("give a limit in USD, in tokens, or both")
    if (limit_nanos is not None and limit_nanos < 0) or (limit_tokens is not None and limit_tokens < 0):
        raise BudgetError("limits must not be negative")
    if (limit_nanos is not None and limit_nanos > MAX_LIMIT_NANOS) or (limit_tokens is not None and limit_tokens > MAX_LIMIT_TOKENS):
        raise BudgetError(f"limits are at most ${MAX_LIMIT_NANOS // 10**9:,} and {MAX_LIMIT_TOKENS:,} tokens")
    if period not in PERIODS:
        raise BudgetError(f"period must be one of {', '.join(PERIODS)}")
    if soft is not None and not 0.0 < soft <= 1.0:
        raise BudgetError("the soft threshold is a share of the limit in (0, 1]")
    if on_exceed not in ON_EXCEED:
        raise BudgetError(f"on-exceed must be one of {', '.join(ON_EXCEED)}")


def set_budget(
    session: Session,
    *,
    tenant_id: str,
    key_id: str | None = None,
    run_id: str | None = None,
    model: str | None = None,
    limit_usd: float | None = None,
    limit_tokens: int | None = None,
    period: str = "monthly",
    soft: float | None = 0.8,
    on_exceed: str = "refuse",
    alert_webhook: str | None = None,
    allow_private_webhook: bool = True,
    by_operator: bool = True,
) -> Budget:
    """Create the budget for this scope, or replace the limits of the one already there.
    `allow_private_webhook` is for operators only (see billing/budgets/webhook_url.py); a tenant
    admin (`by_operator` False) may not replace a budget the operator set."""
    if limit_usd is not None and not math.isfinite(limit_usd):
        raise BudgetError("the USD limit must be a finite number")
    if alert_webhook is not None:
        try:
            check_webhook_url(alert_webhook, allow_private_webhook)
        except WebhookURLError as exc:
            raise BudgetError(str(exc)) from None
    limit_nanos = usd_to_nanos(limit_usd) if limit_usd is not None else None
    _validate(session, tenant_id, key_id, run_id, limit_nanos, limit_tokens, period, soft, on_exceed)
    scope = scope_string(tenant_id, key_id, run_id, model)
    budget = session.exec(select(Budget).where(Budget.scope == scope)).first()
    if budget is not None and budget.set_by_operator and not by_operator:
        raise OperatorWall("This budget was set by the operator; a tenant admin cannot change it (add a narrower one instead).")
    if budget is None:
        budget = Budget(id=new_id("bgt"), tenant_id=tenant_id, key_id=key_id, run_id=run_id, model=model, scope=scope)
    elif budget.period != period:
        # A new period kind counts from a fresh counter; a new id makes that explicit.
        session.delete(budget)
        session.flush()
        budget = Budget(id=new_id("bgt"), tenant_id=tenant_id, key_id=key_id, run_id=run_id, model=model, scope=scope)
    budget.limit_nanos = limit_nanos
    budget.limit_tokens = limit_tokens
    budget.period = period
    budget.soft_fraction = soft
    budget.on_exceed = on_exceed
    budget.alert_webhook = alert_webhook
    budget.set_by_operator = by_operator
    budget.updated_at = utcnow()
    session.add(budget)
    session.commit()
    session.refresh(budget)
    return budget


def list_budgets(session: Session, tenant_id: str | None = None) -> list[Budget]:
    query = select(Budget).order_by(Budget.created_at)
    if tenant_id is not None:
        query = query.where(Budget.tenant_id == tenant_id)
    return list(session.exec(query))


def find_budget(session: Session, tenant_id: str, key_id: str | None, run_id: str | None, model: str | None) -> Budget | None:
    return session.exec(select(Budget).where(Budget.scope == scope_string(tenant_id, key_id, run_id, model))).first()


def delete_budget(session: Session, budget_id: str, by_operator: bool = True) -> Budget:
    budget = session.get(Budget, budget_id)
    if budget is None:
        raise BudgetError(f"no budget {budget_id!r}")
    if budget.set_by_operator and not by_operator:
        raise OperatorWall("This budget was set by the operator; a tenant admin cannot remove it.")
    session.delete(budget)
    session.commit()
    return budget


def load_definitions(engine: Engine) -> list[BudgetDef]:
    with db_session(engine) as session:
        return [BudgetDef.from_row(b) for b in session.exec(select(Budget))]


class BudgetBook:
    """Budgets by tenant, for the per-request question 'which walls apply to this call?'."""

    def __init__(self, budgets: Iterable[BudgetDef] = ()):
        self.replace(budgets)

    def replace(self, budgets: Iterable[BudgetDef]) -> None:
        by_tenant: dict[str, list[BudgetDef]] = {}
        by_id: dict[str, BudgetDef] = {}
        for b in budgets:
            by_tenant.setdefault(b.tenant_id, []).append(b)
            by_id[b.id] = b
        self._by_tenant, self._by_id = by_tenant, by_id

    def all(self) -> list[BudgetDef]:
        return list(self._by_id.values())

    def get(self, budget_id: str) -> BudgetDef | None:
        return self._by_id.get(budget_id)

    def for_tenant(self, tenant_id: str | None) -> list[BudgetDef]:
        return self._by_tenant.get(tenant_id, []) if tenant_id else []

    def in_scope(self, tenant_id: str | None, key_id: str | None, run_id: str | None, model: str | None) -> list[BudgetDef]:
        return [b for b in self.for_tenant(tenant_id) if b.applies(key_id, run_id, model)]
