"""`model: "auto"`: difficulty routing through the gateway, with budgets, stickiness, fallback,
cascade and feedback. The upstreams are fakes; the router and its shipped weights are real."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
import sqlalchemy as sa

from billing.db import db_session
from billing.feedback_models import RouteFeedback, TenantRouteThreshold
from gateway.feedback import DefaultThresholds, recalibrate
from tests.billing.helpers import add_rows, ledger_row
from tests.fakes.openai_upstream import Failure, Raw
from tests.gateway.conftest import model_list
from tests.support.gateway import GatewayUnderTest, start_gateway

EASY = "hi, how are you?"
MEDIUM = "Write a bash script that renames all .txt files in a folder to .md."
HARD = (
    "A train leaves at 3:15pm traveling 62 mph; a second leaves 40 minutes later at 75 mph. When does the second overtake the first, "
    "and how far from the station? Then compute the total fuel if each uses 3.2 gallons per 10 miles, and the cost at $4.19 per gallon."
)
ROUTES = {
    "routes": [
        {"name": "auto", "strong_share": 0.3, "local_share": 0.3, "models": ["local-small", "gpt-4o-mini", "gpt-4o"]},
        {"name": "auto-cascade", "strong_share": 0.3, "local_share": 0.3, "cascade": True, "cascade_min_logprob": -1.0, "models": ["local-small", "gpt-4o-mini", "gpt-4o"]},
    ]
}


@pytest.fixture(scope="module")
def routed(fake_openai, tmp_path_factory) -> Iterator[GatewayUnderTest]:
    tmp = tmp_path_factory.mktemp("routed")
    gw = start_gateway(f"sqlite:///{tmp}/routed.db", str(tmp), model_list=model_list(fake_openai), routing=ROUTES, cache={"enabled": False})
    yield gw
    gw.stop()


def ask(gw: GatewayUnderTest, text: str, key: str | None = None, model: str = "auto", **kwargs):  # noqa: ANN201
    raw = gw.openai(key).chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": text}], **kwargs)
    route = dict(part.split("=", 1) for part in raw.headers["x-tokenmill-route"].split("; "))
    return raw, route


def test_routes_are_listed_as_models(routed):
    names = {m.id for m in routed.openai().models.list()}
    assert {"auto", "auto-cascade", "gpt-4o"} <= names


def test_difficulty_picks_the_tier_and_explains_itself(routed, fake_openai):
    tiers, scores = {}, {}
    local_threshold = routed.services.routes.routes["auto"].definition.local_threshold
    for text in (EASY, MEDIUM, HARD):
        raw, route = ask(routed, text)
        tiers[text], scores[text] = route["tier"], float(route["score"])
        assert 0 < float(route["score"]) < 1 and float(route["threshold"]) > 0 and route["reason"].startswith("route=auto;")
        row = routed.wait_for_usage(raw.headers["x-request-id"])
        assert row.tier == route["tier"] and row.route_score == pytest.approx(float(route["score"]), abs=1e-3)
        assert row.route_threshold == pytest.approx(float(route["threshold"]), abs=1e-3)
        assert row.route_reason == route["reason"] and row.model_requested == "auto"
    assert scores[EASY] < scores[MEDIUM] < scores[HARD]
    assert tiers[EASY] == "local" and tiers[HARD] == "strong"
    # The middle prompt sits between the two thresholds of the shipped calibration.
    assert tiers[MEDIUM] == ("cheap" if scores[MEDIUM] >= local_threshold else "local")
    served = {"local": "local-small", "cheap": "gpt-4o-mini", "strong": "gpt-4o"}
    assert [r["model"] for r in fake_openai.requests[-3:]] == [served[tiers[t]] for t in (EASY, MEDIUM, HARD)]


def test_tools_required_never_go_to_the_local_tier(routed):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    raw, route = ask(routed, EASY, tools=[tool], tool_choice="required")
    assert route["tier"] == "cheap" and "tools-required" in route["reason"]


def test_offered_tools_and_long_plans_go_up_a_tier(routed):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    _, route = ask(routed, EASY, tools=[tool])  # tool_choice auto: the model may call it; local-small cannot
    assert route["tier"] == "cheap" and "tools-offered" in route["reason"]
    assert ask(routed, EASY, tools=[tool], tool_choice="none")[1]["tier"] == "local"
    plan = "Plan:\n" + "\n".join(f"{i}. change module {i} and run its tests" for i in range(1, 11))
    messages = [{"role": "user", "content": "refactor the package"}, {"role": "assistant", "content": plan}, {"role": "user", "content": EASY}]
    raw = routed.openai().chat.completions.with_raw_response.create(model="auto", messages=messages)
    assert "long-plan" in raw.headers["x-tokenmill-route"] and "tier=local" not in raw.headers["x-tokenmill-route"]


def test_a_prompt_longer_than_a_models_context_goes_to_one_that_holds_it(routed, fake_openai):
    # Easy chit-chat, but ~6,000 tokens of it: the 4,096-token local model cannot take it.
    long_easy = "hi, how are you? I am fine, thanks for asking. " * 500
    raw, route = ask(routed, long_easy)
    assert route["tier"] != "local" and route["reason"].endswith(";context-too-long-for=local-small")
    assert fake_openai.requests[-1]["model"] != "local-small"
    assert ask(routed, EASY)[1]["tier"] == "local"  # short calls still go there
    with pytest.raises(openai.BadRequestError, match="largest context window") as refused:
        ask(routed, "word " * 700_000)  # ~800k tokens: more than any model of the route holds
    assert refused.value.code == "context_length_exceeded"
    row = routed.wait_for_usage(refused.value.response.headers["x-request-id"])
    assert row.status_code == 400 and row.cost_nanos == 0 and row.model_requested == "auto"


def test_calls_the_local_engine_cannot_serve_go_elsewhere(routed, fake_openai):
    # An image: the local engine has no vision, so the route skips it.
    image = [{"type": "text", "text": EASY}, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    raw = routed.openai().chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": image}])
    assert raw.headers["x-tokenmill-route"].startswith("tier=cheap") or raw.headers["x-tokenmill-route"].startswith("tier=strong")
    # Chinese is about a token a character, not a quarter: 4,000 characters do not fit 4,096 tokens.
    assert ask(routed, "你好，你今天怎么样？" * 400)[1]["tier"] != "local"
    # The engine itself refuses a prompt over its context (the estimate can be wrong): the next tier answers.
    refusal = {"error": {"message": "the prompt has 5000 tokens; this model's context is 4096", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    fake_openai.script("local-small", raw=Raw(json.dumps(refusal).encode(), status=400))
    raw, route = ask(routed, EASY)
    assert fake_openai.requests[-2]["model"] == "local-small" and raw.headers["x-tokenmill-model"] != "local-small"
    assert route["tier"] != "local" and raw.parse().choices[0].message.content == f"echo: {EASY}"


def test_an_agent_run_sticks_to_its_deployment_while_that_is_not_dearer(routed):
    key = routed.new_key("sticky-co")
    run = {"extra_headers": {"x-tokenmill-run": "run-sticky"}}
    _, first = ask(routed, HARD, key=key, **run)
    _, second = ask(routed, HARD + " Show your work.", key=key, **run)
    assert first["tier"] == second["tier"] == "strong" and second["reason"].endswith("sticky")
    # gpt-4o's cached prompt price is still far above the local tier's: an easy turn leaves.
    _, easy = ask(routed, EASY, key=key, **run)
    assert easy["tier"] == "local" and "left-sticky" in easy["reason"]


@pytest.mark.parametrize("on_the_route", [False, True], ids=["tenant-budget", "budget-on-auto"])
def test_a_low_budget_steps_hard_calls_down(routed, on_the_route):
    key = routed.new_key("thrifty-route-co" if on_the_route else "thrifty-co")
    tenant_id = routed.principal_tenant(key)
    scope = {"model": "auto"} if on_the_route else {}  # a budget on the route itself moves its thresholds too
    with routed.http(routed.admin_key) as admin:
        assert admin.post("/admin/api/budgets", json={"tenant_id": tenant_id, "limit_usd": 0.005, "period": "none", **scope}).status_code in (200, 201)
    seen = []
    for _ in range(20):  # the same hard call, again and again, as the budget drains
        _, route = ask(routed, HARD, key=key, max_tokens=50)
        seen.append(route)
        if route["tier"] != "strong":
            break
    assert seen[0]["tier"] == "strong" and "budget-low" not in seen[0]["reason"]
    assert seen[-1]["tier"] != "strong" and "budget-low" in seen[-1]["reason"], seen


def test_a_budget_too_small_for_the_chosen_tier_is_served_cheaper_not_refused(routed):
    key = routed.new_key("shoestring-co")
    tenant_id = routed.principal_tenant(key)
    with routed.http(routed.admin_key) as admin:
        # gpt-4o's worst case for HARD at 50 output tokens is ~$0.0008; gpt-4o-mini's ~$0.00005.
        assert admin.post("/admin/api/budgets", json={"tenant_id": tenant_id, "limit_usd": 0.0004, "period": "none"}).status_code in (200, 201)
    raw, route = ask(routed, HARD, key=key, max_tokens=50)
    assert route["tier"] == "cheap" and "budget-steps-down" in route["reason"]
    assert routed.wait_for_usage(raw.headers["x-request-id"]).route_reason == route["reason"]
    broke = routed.new_key("broke-co")
    with routed.http(routed.admin_key) as admin:
        admin.post("/admin/api/budgets", json={"tenant_id": routed.principal_tenant(broke), "limit_usd": 0.00000001, "period": "none"})
    with pytest.raises(openai.RateLimitError) as refused:
        ask(routed, HARD, key=broke, max_tokens=50)
    assert refused.value.response.headers["x-tokenmill-route"].startswith("tier=strong; score=")  # the refusal still explains the route
    row = routed.wait_for_usage(refused.value.response.headers["x-request-id"])
    assert row.status_code == 429 and row.tier == "strong" and row.deployment == ""  # the row says what the header says


def test_upstream_failure_falls_back_along_the_tiers(routed, fake_openai):
    fake_openai.script("gpt-4o-mini", failures=[Failure(503)] * 3)
    raw, route = ask(routed, MEDIUM)
    assert raw.headers["x-tokenmill-model"] != "gpt-4o-mini"
    assert raw.parse().choices[0].message.content.startswith("echo:")
    assert route["reason"].endswith(";fallback-from=gpt-4o-mini@0") or "fallback-from=gpt-4o-mini" in route["reason"]
    assert routed.wait_for_usage(raw.headers["x-request-id"]).route_reason == route["reason"]


def test_cascade_keeps_a_confident_local_answer(routed, fake_openai):
    raw, route = ask(routed, MEDIUM, model="auto-cascade")
    assert raw.headers["x-tokenmill-model"] == "local-small" and "cascade:kept-local" in route["reason"]
    assert raw.parse().choices[0].logprobs is None  # the caller did not ask for them
    row = routed.wait_for_usage(raw.headers["x-request-id"])
    assert row.cost_nanos > 0 and row.deployment.startswith("local-small@")
    assert routed.usage_rows(request_id=raw.headers["x-request-id"] + ".local") == []  # one row: the kept answer


def test_cascade_escalates_a_doubtful_local_answer_and_bills_both(routed, fake_openai):
    fake_openai.script("local-small", logprob=-3.0)
    raw, route = ask(routed, MEDIUM, model="auto-cascade")
    assert raw.headers["x-tokenmill-model"] == "gpt-4o-mini" and "cascade:low-confidence" in route["reason"]
    request_id = raw.headers["x-request-id"]
    main = routed.wait_for_usage(request_id)
    local = routed.wait_for_usage(request_id + ".local")
    assert local.deployment.startswith("local-small@") and local.cost_nanos > 0 and main.cost_nanos > 0
    assert [r["model"] for r in fake_openai.requests[-2:]] == ["local-small", "gpt-4o-mini"]


def test_cascade_never_offers_tools_to_a_local_model_that_cannot_call_them(routed, fake_openai):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    before = len(fake_openai.requests)
    raw, route = ask(routed, EASY, model="auto-cascade", tools=[tool])
    assert route["tier"] == "cheap" and "cascade:" not in route["reason"]
    assert [r["model"] for r in fake_openai.requests[before:]] == ["gpt-4o-mini"]
    assert routed.usage_rows(request_id=raw.headers["x-request-id"] + ".local") == []
    forced_custom = {"type": "custom", "custom": {"name": "apply_patch"}}
    _, route = ask(routed, EASY, tools=[{"type": "custom", "custom": {"name": "apply_patch"}}], tool_choice=forced_custom)
    assert route["tier"] == "cheap" and "tools-required" in route["reason"]


def test_a_failed_local_attempt_of_the_cascade_is_recorded_and_explained(routed, fake_openai):
    fake_openai.script("local-small", failures=[Failure(500)] * 3)
    raw, route = ask(routed, MEDIUM, model="auto-cascade")
    assert raw.headers["x-tokenmill-model"] == "gpt-4o-mini" and route["reason"].endswith(";cascade:local-failed")
    local = routed.wait_for_usage(raw.headers["x-request-id"] + ".local")
    assert local.status_code == 502 and local.deployment.startswith("local-small@") and local.tier == "local"
    assert local.route_reason == "cascade:local-failed"


def test_cascade_does_not_retry_local_on_a_format_it_failed_in_the_run(routed, fake_openai):
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    run = {"extra_headers": {"x-tokenmill-run": "run-json"}, "response_format": schema}
    first = ask(routed, MEDIUM, model="auto-cascade", **run)[1]
    assert "cascade:invalid-json" in first["reason"]  # the fake's echo is not JSON
    before = len(fake_openai.requests)
    second = ask(routed, MEDIUM + " again", model="auto-cascade", **run)[1]
    assert "cascade:" not in second["reason"]
    assert [r["model"] for r in fake_openai.requests[before:]] == ["gpt-4o-mini"]


def test_feedback_is_stored_and_recalibrates_the_tenant_threshold(routed):
    key = routed.new_key("feedback-co")
    request_ids = [ask(routed, EASY, key=key)[0].headers["x-request-id"] for _ in range(3)]
    for rid in request_ids:
        routed.wait_for_usage(rid)
    with routed.http(key) as http:
        ok = http.post("/v1/feedback", json={"request_id": request_ids[0], "thumbs": "down", "label": "wrong"})
        assert ok.status_code == 200 and ok.json()["score"] == 0.0
        assert http.post("/v1/feedback", json={"request_id": "req_nope", "score": 1}).status_code == 404
        assert http.post("/v1/feedback", json={"request_id": request_ids[1]}).status_code == 400
        for loose in (True, "1", "0.5"):  # a boolean or a string is not a score
            assert http.post("/v1/feedback", json={"request_id": request_ids[1], "score": loose}).status_code == 400, loose
    other = routed.new_key("nosy-co")
    with routed.http(other) as http:
        assert http.post("/v1/feedback", json={"request_id": request_ids[1], "score": 1}).status_code == 404

    # Many failures among kept calls at low scores: the tenant's threshold must drop (more strong).
    tenant_id = routed.principal_tenant(key)
    with db_session(routed.db) as session:
        rows = session.execute(sa.text("SELECT request_id FROM usage_records WHERE tenant_id = :t"), {"t": tenant_id}).scalars().all()
        for i in range(60):
            session.execute(
                sa.text(
                    "INSERT INTO usage_records (request_id, created_at, tenant_id, endpoint, model_requested, model_served, deployment, provider, tier, "
                    "route_reason, route_score, cache, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos, "
                    "saved_nanos, latency_ms, stream, status_code) VALUES (:r, CURRENT_TIMESTAMP, :t, 'chat', 'auto', 'm', 'd', 'openai', 'cheap', '', :s, "
                    "'', 1, 1, 0, 0, 0, 1, 0, 1.0, 0, 200)"
                ),
                {"r": f"synthetic-{i}", "t": tenant_id, "s": 0.02 + i * 0.003},
            )
            session.add(RouteFeedback(request_id=f"synthetic-{i}", tenant_id=tenant_id, score=0.0 if i % 2 else 1.0))
            # The operator's admin key has no tenant: its feedback must not stop anyone's recalibration.
            session.execute(
                sa.text(
                    "INSERT INTO usage_records (request_id, created_at, endpoint, model_requested, model_served, deployment, provider, tier, "
                    "route_reason, route_score, cache, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos, "
                    "saved_nanos, latency_ms, stream, status_code) VALUES (:r, CURRENT_TIMESTAMP, 'chat', 'auto', 'm', 'd', 'openai', 'cheap', '', 0.1, "
                    "'', 1, 1, 0, 0, 0, 1, 0, 1.0, 0, 200)"
                ),
                {"r": f"admin-{i}"},
            )
            session.add(RouteFeedback(request_id=f"admin-{i}", tenant_id=None, score=1.0))
        session.commit()
    assert len(rows) >= 3
    default = routed.services.routes.routes["auto"].definition.strong_threshold
    # Another tenant's own route of the same name has its own default; it must not become this one's.
    changes = recalibrate(routed.db, DefaultThresholds({"auto": default}, {"someone-else": {"auto": 0.99}}))
    assert all(c.tenant_id is not None for c in changes)
    mine = [c for c in changes if c.tenant_id == tenant_id]
    assert len(mine) == 1 and mine[0].new_threshold < default
    with db_session(routed.db) as session:
        stored = session.get(TenantRouteThreshold, (tenant_id, "auto"))
    assert stored.threshold == pytest.approx(mine[0].new_threshold)
    routed.services.routes._thresholds_loaded = 0.0  # reload now rather than within 30 s
    _, route = ask(routed, MEDIUM, key=key)
    assert float(route["threshold"]) == pytest.approx(stored.threshold, abs=1e-3)


def test_routing_report_shows_the_tier_mix(routed):
    from gateway.routing_report import routing_report

    acme_id = routed.principal_tenant(routed.new_key("acme"))

    def consistent() -> bool:  # rows of earlier tests may still be on their way to the ledger
        answered = [r for r in routed.usage_rows(tenant_id=acme_id) if r.status_code == 200]
        acme = {r.tenant: r for r in routing_report(routed.db)}["acme"]
        attempts = sum(r.request_id.endswith(".local") for r in answered)
        return attempts > 0 and acme.cascade_attempts == attempts and acme.calls == len(answered) - attempts == sum(acme.tiers.values())

    routed.wait_until(consistent)  # an escalated local attempt is billed but is not a call of its own
    reports = {r.tenant: r for r in routing_report(routed.db)}
    acme = reports["acme"]
    assert acme.routed_calls > 0 and set(acme.tiers) >= {"local", "cheap", "strong"}
    assert 0 < acme.strong_share < 1 and 0 < acme.expected_quality_kept <= 1
    assert json.dumps([r.__dict__ for r in reports.values()])
    # A stream the client left is billed (499): the spend counts it, the calls do not.
    add_rows(routed.db, ledger_row("left-stream", acme_id, 352_500, status_code=499, tier="cheap", model_requested="auto"))
    cut = {r.tenant: r for r in routing_report(routed.db)}["acme"]
    assert cut.calls == acme.calls and cut.cost_usd == pytest.approx(acme.cost_usd + 0.0003525)
