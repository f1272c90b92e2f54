"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from urllib.parse import urlparse

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import model_list
from tests.support.gateway import start_gateway
from tests.support.tcp_proxy import TcpProxy


def test_health_ready_and_metrics(gateway):
    client = gateway.openai(gateway.new_key("metrics-co"))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    with gateway.http() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] is True and ready.json()["counters"] is True
        text = http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = [s for s in families["tokenmill_requests"].samples if s.labels.get("endpoint") == "chat" and s.labels.get("status") == "200"]
    assert requests and requests[0].value >= 1
    assert any(s.labels.get("tenant") == "metrics-co" and s.value > 0 for s in families["tokenmill_cost_usd"].samples)
    assert any(s.name == "tokenmill_request_latency_seconds_bucket" for s in families["tokenmill_request_latency_seconds"].samples)


def test_readiness_follows_the_budget_counters_in_redis(fake_openai, redis_url, redis_namespace, tmp_path):
    """Without its counters no call can be admitted, so the gateway says it is not ready."""
    real = urlparse(redis_url)
    proxy = TcpProxy(real.hostname, real.port or 6379).start()
    url = redis_url.replace(f"{real.hostname}:{real.port or 6379}", f"127.0.0.1:{proxy.port}")
    gw = start_gateway(f"sqlite:///{tmp_path}/ready.db", str(tmp_path), model_list=model_list(fake_openai), redis_url=url,
                       billing={"redis_namespace": redis_namespace})
    try:
        with gw.http() as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["counters"] is True and "local_engine" not in ready.json()
            proxy.cut()
            down = http.get("/readyz")
            assert down.status_code == 503 and down.json() | {"warming": False} == {"status": "unavailable", "database": True, "counters": False, "warming": False}
            assert http.get("/healthz").status_code == 200  # alive: a restart would not bring Redis back
            proxy.restore()
            gw.wait_until(lambda: http.get("/readyz").status_code == 200)
    finally:
        gw.stop()
        proxy.stop()
