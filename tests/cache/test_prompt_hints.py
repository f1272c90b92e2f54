import pytest

from cache.prompt_hints import (
    MAX_BREAKPOINTS,
    add_anthropic_cache_breakpoints,
    anthropic_min_cacheable_tokens,
    prompt_cache_key,
    with_prompt_cache_key,
)

LONG = "word " * 1200  # about 1500 tokens by the 4-characters rule
TOOLS = [{"type": "function", "function": {"name": f"tool{i}", "description": LONG}} for i in range(2)]


def agent_request(model="claude-sonnet-4-5"):
    return {
        "model": model,
        "tools": TOOLS,
        "messages": [
            {"role": "system", "content": "You are an agent. " + LONG},
            {"role": "user", "content": "Find the bug."},
            {"role": "assistant", "content": "Reading files.", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "tool0", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": LONG},
            {"role": "user", "content": "Now fix it."},
        ],
    }


def count_breakpoints(request):
    n = sum("cache_control" in t for t in request.get("tools") or [])
    for m in request["messages"]:
        if isinstance(m.get("content"), list):
            n += sum("cache_control" in p for p in m["content"])
    return n


def test_breakpoints_on_tools_system_previous_and_last_turn():
    original = agent_request()
    plan = add_anthropic_cache_breakpoints(original)
    assert plan.breakpoints == ["tools", "system", "messages[3]", "messages[4]"]
    out = plan.request
    assert out["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert out["messages"][0]["content"][-1] == {"type": "text", "text": original["messages"][0]["content"], "cache_control": {"type": "ephemeral"}}
    assert count_breakpoints(out) == MAX_BREAKPOINTS
    assert "cache_control" not in str(original)  # input untouched


def test_short_prefix_gets_no_breakpoint():
    request = {"model": "claude-sonnet-4-5", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}
    plan = add_anthropic_cache_breakpoints(request)
    assert plan.breakpoints == [] and count_breakpoints(plan.request) == 0


def test_haiku_needs_a_longer_prefix():
    assert anthropic_min_cacheable_tokens("claude-3-5-haiku-20241022") == 2048
    assert anthropic_min_cacheable_tokens("claude-sonnet-4-5") == 1024
    request = {"model": "claude-3-5-haiku", "messages": [{"role": "system", "content": LONG}, {"role": "user", "content": "q"}]}
    assert add_anthropic_cache_breakpoints(request).breakpoints == []
    assert add_anthropic_cache_breakpoints({**request, "model": "claude-sonnet-4"}).breakpoints == ["system", "messages[1]"]


def test_caller_breakpoints_are_respected():
    request = agent_request()
    request["messages"][0]["content"] = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    plan = add_anthropic_cache_breakpoints(request)
    assert plan.breakpoints == [] and plan.request is request


def test_token_counter_is_pluggable():
    plan = add_anthropic_cache_breakpoints(agent_request(), count_tokens=lambda text: 1)
    assert plan.breakpoints == []


def test_bad_request_is_a_clear_error():
    with pytest.raises(ValueError, match="messages"):
        add_anthropic_cache_breakpoints({"model": "claude"})


def test_prompt_cache_key_per_tenant_and_run():
    k1 = prompt_cache_key("tenant-a", "run-1")
    assert k1 == prompt_cache_key("tenant-a", "run-1") and k1.startswith("tm-") and len(k1) <= 64
    assert k1 != prompt_cache_key("tenant-a", "run-2")
    assert k1 != prompt_cache_key("tenant-b", "run-1")
    req = {"model": "gpt-4o", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}]}
    keyed = with_prompt_cache_key(req, "tenant-a", None)
    assert keyed["prompt_cache_key"] == with_prompt_cache_key({**req, "messages": req["messages"][:1] + [{"role": "user", "content": "other"}]}, "tenant-a", None)["prompt_cache_key"]
    assert "prompt_cache_key" not in req
    assert with_prompt_cache_key({**req, "prompt_cache_key": "mine"}, "tenant-a", "r")["prompt_cache_key"] == "mine"
    with pytest.raises(ValueError):
        prompt_cache_key("", "run")
