"""Prometheus metrics. With several workers, PROMETHEUS_MULTIPROC_DIR makes /metrics add them up."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("tokenmill_requests_total", "Requests served", ["endpoint", "status"])
LATENCY = Histogram(
    "tokenmill_request_latency_seconds",
    "Wall time from request to last byte",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TTFT = Histogram(
    "tokenmill_time_to_first_token_seconds",
    "Time to the first generated token of a stream",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKENS = Counter("tokenmill_tokens_total", "Tokens billed", ["tenant", "model", "kind"])
COST = Counter("tokenmill_cost_usd_total", "Cost billed in USD", ["tenant", "model"])
UPSTREAM_ERRORS = Counter("tokenmill_upstream_errors_total", "Failed upstream attempts", ["deployment", "code"])
USAGE_SPOOLED = Counter("tokenmill_usage_rows_spooled_total", "Usage rows written to the disk spool")
USAGE_WRITTEN = Counter("tokenmill_usage_rows_written_total", "Usage rows written to the database")


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class RequestMetrics:
    """Per-(endpoint, status) children of the request counter and latency histogram, cached."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, int], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        counter = self._counters.get((endpoint, status))
        if counter is None:
            counter = self._counters[(endpoint, status)] = REQUESTS.labels(endpoint=endpoint, status=str(status))
        latency = self._latency.get(endpoint)
        if latency is None:
            latency = self._latency[endpoint] = LATENCY.labels(endpoint=endpoint)
        counter.inc()
        latency.observe(seconds)


class TenantModelCounters:
    """The per-(tenant, model) counter children, looked up once instead of on every call."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str], tuple[Counter, Counter, Counter]] = {}

    def add(self, tenant: str, model: str, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        children = self._children.get((tenant, model))
        if children is None:
            children = self._children[(tenant, model)] = (
                TOKENS.labels(tenant=tenant, model=model, kind="prompt"),
                TOKENS.labels(tenant=tenant, model=model, kind="completion"),
                COST.labels(tenant=tenant, model=model),
            )
        prompt, completion, cost = children
        prompt.inc(prompt_tokens)
        completion.inc(completion_tokens)
        cost.inc(cost_usd)


TENANT_MODEL = TenantModelCounters()
REQUEST = RequestMetrics()
