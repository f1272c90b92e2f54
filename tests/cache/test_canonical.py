import json

import pytest

from cache.canonical import CacheRequestError, CacheScope, exact_key

SCOPE = CacheScope("tenant-a", "gpt-4o-mini")


def base_request(**extra):
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
        "temperature": 0,
    }
    request.update(extra)
    return request


def test_key_ignores_key_order_and_json_formatting():
    request = base_request(tools=[{"type": "function", "function": {"name": "f", "parameters": {"a": 1, "b": 2}}}])
    reordered = json.loads(json.dumps(request, sort_keys=True, indent=4))
    reordered["tools"][0]["function"]["parameters"] = {"b": 2, "a": 1}
    assert exact_key(SCOPE, request) == exact_key(SCOPE, reordered)


def test_key_ignores_delivery_only_fields_and_nulls():
    a = base_request()
    b = base_request(stream=True, stream_options={"include_usage": True}, user="u1", metadata={"x": "y"}, top_p=None, store=True, service_tier="auto")
    assert exact_key(SCOPE, a) == exact_key(SCOPE, b)


def test_integral_float_equals_int_and_single_text_part_equals_string():
    a = base_request(temperature=0)
    b = base_request(temperature=0.0)
    b["messages"][1]["content"] = [{"type": "text", "text": "What is 2+2?"}]
    assert exact_key(SCOPE, a) == exact_key(SCOPE, b)


def test_tool_call_argument_string_formatting_does_not_matter():
    def with_args(args: str):
        return base_request(messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": args}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ])
    assert exact_key(SCOPE, with_args('{"city": "Paris", "unit": "C"}')) == exact_key(SCOPE, with_args('{"unit":"C","city":"Paris"}'))
    assert exact_key(SCOPE, with_args('{"city": "Paris"}')) != exact_key(SCOPE, with_args('{"city": "Rome"}'))


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"seed": 7},
        {"max_tokens": 10},
        {"stop": ["\n"]},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "required"},
        {"top_p": 0.9},
        {"n": 2},
        {"logit_bias": {"50256": -100}},
        # Fields beyond OpenAI's that engines and providers honour (the gateway passes them on).
        {"top_k": 1},
        {"repetition_penalty": 1.8},
        {"chat_template_kwargs": {"enable_thinking": False}},
        {"min_p": 0.1},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    ],
)
def test_output_affecting_parameters_change_the_key(change):
    assert exact_key(SCOPE, base_request()) != exact_key(SCOPE, base_request(**change))


def test_message_text_and_whitespace_inside_content_change_the_key():
    other = base_request()
    other["messages"][1]["content"] = "What is 2+2? "
    assert exact_key(SCOPE, base_request()) != exact_key(SCOPE, other)


def test_tenant_model_and_partition_are_part_of_the_key():
    keys = {
        exact_key(CacheScope("tenant-a", "gpt-4o-mini"), base_request()),
        exact_key(CacheScope("tenant-b", "gpt-4o-mini"), base_request()),
        exact_key(CacheScope("tenant-a", "gpt-4o"), base_request()),
        exact_key(CacheScope("tenant-a", "gpt-4o-mini", partition="key-2"), base_request()),
    }
    assert len(keys) == 4


@pytest.mark.parametrize(
    "bad",
    [{"messages": []}, {"messages": "hi"}, {"messages": [{"content": "no role"}]}, {"messages": ["text"]}],
)
def test_bad_requests_give_clear_errors(bad):
    with pytest.raises(CacheRequestError):
        exact_key(SCOPE, bad)


def test_scope_needs_tenant_and_model():
    with pytest.raises(CacheRequestError, match="tenant"):
        CacheScope("", "m")
    with pytest.raises(CacheRequestError, match="model"):
        CacheScope("t", "")


def test_a_null_inside_a_schema_or_tool_arguments_changes_the_key():
    schema = lambda spouse: {"type": "json_schema", "json_schema": {"name": "p", "schema": {"properties": {"spouse": spouse}}}}  # noqa: E731
    assert exact_key(SCOPE, base_request(response_format=schema({"const": None}))) != exact_key(SCOPE, base_request(response_format=schema({})))

    def with_arguments(arguments: str) -> dict:
        call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": arguments}}
        return base_request(messages=[{"role": "assistant", "content": None, "tool_calls": [call]},
                                      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}])

    keys = [exact_key(SCOPE, with_arguments(a)) for a in ('{"city":"Paris","unit":null}', '{"city":"Paris"}',
                                                           '{"city":"Paris","unit":NaN}', '{"city":"Paris","unit":Infinity}',
                                                           '{"id": 123456789012345678901}', '{"id": 123456789012345678902}')]
    assert len(set(keys)) == len(keys)
    assert exact_key(SCOPE, with_arguments('{"city": "Paris"}')) == keys[1]  # formatting still does not matter


def test_numbers_beyond_64_bits_and_floats_beyond_2_53_key_without_error():
    big = exact_key(SCOPE, base_request(response_format={"type": "json_schema", "json_schema": {"schema": {"maximum": 1e20}}}))
    bigger = exact_key(SCOPE, base_request(response_format={"type": "json_schema", "json_schema": {"schema": {"maximum": 1e21}}}))
    assert big != bigger
    assert exact_key(SCOPE, base_request(logit_bias={"5": 2**70})) != exact_key(SCOPE, base_request(logit_bias={"5": 2**70 + 1}))
