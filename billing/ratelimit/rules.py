"""Rate-limit rules for tenants and keys: managed in SQL, read from an in-memory book."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from billing.budget_models import RateLimitRule
from billing.budgets.definitions import OperatorWall
from billing.db import db_session
from billing.keys import new_id
from billing.models import ApiKey, Tenant

MAX_RPM = 10**9  # fits the rpm column (32-bit)
MAX_TPM = 10**12


class RateLimitError(ValueError):
    """A rate-limit rule that cannot be stored."""


@dataclass(frozen=True)
class RateRule:
    id: str
    tenant_id: str
    key_id: str | None
    rpm: int | None
    tpm: int | None

    @property
    def bucket_id(self) -> str:
        return f"k:{self.key_id}" if self.key_id else f"t:{self.tenant_id}"


def set_rate_limit(
    session: Session, tenant_id: str, key_id: str | None = None, rpm: int | None = None, tpm: int | None = None, by_operator: bool = True
) -> RateLimitRule:
    """Create or replace the rule of this scope; a tenant admin (`by_operator` False) may not
    replace one the operator set."""
    if session.get(Tenant, tenant_id) is None:
        raise RateLimitError(f"no tenant {tenant_id!r}")
    if key_id is not None:
        key = session.get(ApiKey, key_id)
        if key is None or key.tenant_id != tenant_id:
            raise RateLimitError(f"no key {key_id!r} in this tenant")
    if rpm is None and tpm is None:
        raise RateLimitError("give --rpm, --tpm or both")
    if (rpm is not None and not 1 <= rpm <= MAX_RPM) or (tpm is not None and not 1 <= tpm <= MAX_TPM):
        raise RateLimitError(f"limits are positive numbers per minute, at most {MAX_RPM:,} requests and {MAX_TPM:,} tokens")
    scope = f"{tenant_id}|{key_id or ''}"
    rule = session.exec(select(RateLimitRule).where(RateLimitRule.scope == scope)).first()
    if rule is not None and rule.set_by_operator and not by_operator:
        raise OperatorWall("This rate limit was set by the operator; a tenant admin cannot change it.")
    if rule is None:
        rule = RateLimitRule(id=new_id("rl"), tenant_id=tenant_id, key_id=key_id, scope=scope)
    rule.rpm, rule.tpm, rule.set_by_operator = rpm, tpm, by_operator
    session.add(rule)
    session.commit()
    session.refresh(rule)
    return rule


def list_rate_limits(session: Session, tenant_id: str | None = None) -> list[RateLimitRule]:
    query = select(RateLimitRule).order_by(RateLimitRule.created_at)
    if tenant_id is not None:
        query = query.where(RateLimitRule.tenant_id == tenant_id)
    return list(session.exec(query))


def delete_rate_limit(session: Session, rule_id: str, by_operator: bool = True) -> RateLimitRule:
    rule = session.get(RateLimitRule, rule_id)
    if rule is None:
        raise RateLimitError(f"no rate limit {rule_id!r}")
    if rule.set_by_operator and not by_operator:
        raise OperatorWall("This rate limit was set by the operator; a tenant admin cannot remove it.")
    session.delete(rule)
    session.commit()
    return rule


def load_rules(engine: Engine) -> list[RateRule]:
    with db_session(engine) as session:
        return [RateRule(r.id, r.tenant_id, r.key_id, r.rpm, r.tpm) for r in session.exec(select(RateLimitRule))]


class RuleBook:
    def __init__(self, rules: Iterable[RateRule] = ()):
        self.replace(rules)

    def replace(self, rules: Iterable[RateRule]) -> None:
        self._by_key: dict[str, RateRule] = {}
        self._by_tenant: dict[str, RateRule] = {}
        for r in rules:
            if r.key_id:
                self._by_key[r.key_id] = r
            else:
                self._by_tenant[r.tenant_id] = r

    def for_principal(self, tenant_id: str | None, key_id: str | None) -> list[RateRule]:
        out = []
        if key_id and key_id in self._by_key:
            out.append(self._by_key[key_id])
        if tenant_id and tenant_id in self._by_tenant:
            out.append(self._by_tenant[tenant_id])
        return out
