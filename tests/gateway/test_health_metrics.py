"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def test_health_ready_and_metrics(gateway):
    client = gateway.openai(gateway.new_key("metrics-co"))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    with gateway.http() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] is True
        text = http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = [s for s in families["tokenmill_requests"].samples if s.labels.get("endpoint") == "chat" and s.labels.get("status") == "200"]
    assert requests and requests[0].value >= 1
    assert any(s.labels.get("tenant") == "metrics-co" and s.value > 0 for s in families["tokenmill_cost_usd"].samples)
    assert any(s.name == "tokenmill_request_latency_seconds_bucket" for s in families["tokenmill_request_latency_seconds"].samples)
