"""When the in-process engine's loop stops (a bug, or out of memory), local calls fail with a 503
that says so, and the gateway's liveness check fails so that an orchestrator restarts it."""

from __future__ import annotations

import openai
import pytest

from tests.support.gateway import start_gateway


@pytest.mark.slow
def test_a_stopped_engine_loop_fails_liveness_and_local_calls(tmp_path, monkeypatch):
    gw = start_gateway(f"sqlite:///{tmp_path}/engine-failure.db", str(tmp_path))  # the embedded default: the bundled model
    try:
        client = gw.openai(timeout=300)
        ask = {"model": "tokenmill-local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        client.chat.completions.create(**ask)  # loads the engine
        with gw.http() as http:
            assert http.get("/healthz").status_code == 200 and http.get("/readyz").json()["local_engine"] == "ready"

        def broken_step():  # a fault injected where a bug or an out-of-memory error would strike
            raise RuntimeError("out of memory (injected)")

        monkeypatch.setattr(gw.services.providers["local"]._engine.engine, "step", broken_step)
        with pytest.raises(openai.InternalServerError) as failed:
            client.chat.completions.create(**ask)
        assert failed.value.status_code == 503
        with gw.http() as http:
            health = http.get("/healthz")
            assert health.status_code == 503 and "out of memory" in health.json()["local_engine"]
    finally:
        gw.stop()


def test_a_disabled_local_engine_loads_nothing_and_routes_past_it(tmp_path):
    from tests.fakes.openai_upstream import FakeOpenAI

    fake = FakeOpenAI().start()
    models = [
        {"model_name": "small", "litellm_params": {"model": "local/smollm2"}, "model_info": {"tier": "local"}, "fallbacks": ["remote"]},
        {"model_name": "remote", "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": fake.base_url, "api_key": fake.api_key}, "model_info": {"tier": "cheap"}},
    ]
    gw = start_gateway(f"sqlite:///{tmp_path}/off.db", str(tmp_path), model_list=models, local_engine={"enabled": False})
    try:
        raw = gw.openai().chat.completions.with_raw_response.create(model="small", messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["x-tokenmill-model"] == "remote" and raw.parse().choices[0].message.content == "echo: hi"
        with gw.http() as http:
            assert http.get("/readyz").json()["local_engine"] == "disabled"
    finally:
        gw.stop()
        fake.stop()
