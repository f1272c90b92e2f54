"""Import point for every SQLModel table of the project (used by Alembic and tests)."""

from billing.models import ApiKey, Tenant, UsageRecord

__all__ = ["ApiKey", "Tenant", "UsageRecord"]
