"""Import point for every SQLModel table of the project (used by Alembic and tests)."""

from billing.batch_models import Batch, BatchChunk, BatchLine, FileBlob, StoredFile
from billing.budget_models import Budget, BudgetAlert, RateLimitRule
from billing.feedback_models import RouteFeedback, TenantRouteThreshold
from billing.models import ApiKey, Tenant, UsageRecord
from billing.rollup_models import RollupState, UsageDaily
from billing.session_models import EndedAdminSession

__all__ = [
    "ApiKey", "Budget", "BudgetAlert", "RateLimitRule", "RollupState", "RouteFeedback", "Tenant", "TenantRouteThreshold", "UsageDaily",
    "UsageRecord", "Batch", "BatchChunk", "BatchLine", "FileBlob", "StoredFile", "EndedAdminSession",
]
