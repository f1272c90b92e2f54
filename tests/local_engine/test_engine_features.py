"""Engine-level request features on a tiny model: stop tokens, logprobs under speculation, seeds,
length limits, tool-call parsing."""

from __future__ import annotations

import json

import pytest

from local_engine.config import EngineConfig
from local_engine.engine import LLMEngine, RequestError
from local_engine.openai_protocol import forced_tool_call, parse_tool_calls, sampling_params, tool_plan
from local_engine.openai_serving import _before_possible_tag
from local_engine.sequence import SamplingParams


@pytest.fixture(scope="module")
def folder(tiny_model_dir):
    return tiny_model_dir("llama")[0]


def _engine(folder, **kw) -> LLMEngine:
    return LLMEngine(EngineConfig(model=str(folder), block_size=4, num_kv_blocks=128, **kw))


def _run(engine: LLMEngine, prompt, params):
    engine.add_request("r", prompt, params)
    outs = []
    while engine.has_unfinished():
        outs.extend(engine.step())
    return outs


def test_stop_token_ids_end_the_output(folder):
    engine = _engine(folder)
    prompt = list(range(10, 30))
    free = engine.generate([prompt], SamplingParams(max_tokens=20, temperature=0, ignore_eos=True))[0]
    stop = free[5]
    outs = _run(engine, prompt, SamplingParams(max_tokens=20, temperature=0, ignore_eos=True, stop_token_ids=[stop]))
    tokens = [t for o in outs for t in o.token_ids]
    assert tokens == free[: free.index(stop) + 1]
    assert outs[-1].finish_reason == "stop"


def test_logprobs_equal_with_and_without_speculation(folder):
    prompt = [7, 8, 9, 10, 11, 12] * 5  # repetitive: drafts get proposed and accepted
    params = SamplingParams(max_tokens=16, temperature=0, ignore_eos=True, logprobs=True, top_logprobs=3)
    runs = []
    for spec in (False, True):
        engine = _engine(folder, speculative_ngram=spec)
        outs = _run(engine, prompt, params)
        runs.append([lp for o in outs for lp in o.logprobs])
        if spec:
            assert engine.stats["draft_tokens"] > 0
    off, on = runs
    assert [x.token_id for x in off] == [x.token_id for x in on] and len(off) == 16
    for a, b in zip(off, on, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
        assert [t for t, _ in a.top] == [t for t, _ in b.top] and len(a.top) == 3
        assert a.top[0][1] >= a.logprob - 1e-6


def test_seeded_sampling_is_independent_of_batch_and_penalties_apply(folder):
    params = SamplingParams(max_tokens=12, temperature=0.9, top_p=0.9, seed=7, ignore_eos=True)
    prompt = [3, 1, 4, 1, 5, 9, 2, 6]
    alone = _engine(folder).generate([prompt], params)[0]
    crowd = _engine(folder).generate(
        [[1, 2, 3], prompt, [9] * 20], [SamplingParams(max_tokens=5, temperature=1.0), params, SamplingParams(max_tokens=7, temperature=0)]
    )
    assert crowd[1] == alone
    plain = _engine(folder).generate([prompt], SamplingParams(max_tokens=12, temperature=0, ignore_eos=True))[0]
    penalised = _engine(folder).generate(
        [prompt], SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, presence_penalty=5.0, frequency_penalty=5.0)
    )[0]
    assert len(set(plain)) < 12, "precondition: the tiny model repeats itself greedily"
    assert len(set(penalised)) > len(set(plain))


def test_context_limit_and_bad_requests(folder):
    engine = _engine(folder, max_model_len=40)
    outs = _run(engine, list(range(1, 31)), SamplingParams(max_tokens=100, temperature=0, ignore_eos=True))
    assert outs[-1].finish_reason == "length" and outs[-1].completion_tokens == 10
    with pytest.raises(RequestError, match="context"):
        engine.add_request("long", list(range(1, 41)), SamplingParams())
    with pytest.raises(RequestError, match="empty"):
        engine.add_request("empty", [], SamplingParams())


def test_openai_fields_translate_and_validate():
    p = sampling_params(
        {
            "max_tokens": 7,
            "temperature": 0,
            "stop": "END",
            "seed": 1,
            "logprobs": True,
            "top_logprobs": 2,
            "response_format": {"type": "json_object"},
        },
        chat=True,
    )
    assert (p.max_tokens, p.greedy, p.stop, p.top_logprobs, p.json_object) == (7, True, ["END"], 2, True)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    p = sampling_params({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}, chat=True)
    assert '"integer"' in p.json_schema
    for bad in ({"n": 3}, {"temperature": "hot"}, {"top_p": 0}, {"response_format": {"type": "yaml"}}, {"stop": [""]}, {"top_logprobs": 2}):
        with pytest.raises(RequestError):
            sampling_params(bad, chat=True)


def test_tool_call_blocks_become_openai_tool_calls():
    text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    rest, calls = parse_tool_calls(text)
    assert rest == "Let me check."
    assert calls[0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert parse_tool_calls("no calls <tool_call>not json</tool_call>")[1] == []


def test_many_seeds_give_varied_samples(folder):
    prompt = [5, 5, 5]
    outs = [_engine(folder).generate([prompt], SamplingParams(max_tokens=4, temperature=1.5, seed=s))[0] for s in range(4)]
    assert len({tuple(o) for o in outs}) > 1


def test_tool_choice_plans_what_is_rendered_and_what_is_forced():
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    clock = {"type": "function", "function": {"name": "get_time"}}
    assert tool_plan({"tools": [weather]}) == ([weather], None)
    assert tool_plan({"tools": [weather], "tool_choice": "none"}) == (None, None)
    tools, schema = tool_plan({"tools": [weather, clock], "tool_choice": {"type": "function", "function": {"name": "get_time"}}})
    assert tools == [weather, clock] and json.loads(schema)["properties"]["name"] == {"const": "get_time"}
    either = json.loads(tool_plan({"tools": [weather, clock], "tool_choice": "required"})[1])
    assert [o["properties"]["name"]["const"] for o in either["anyOf"]] == ["get_weather", "get_time"]
    bad = ({"tool_choice": "required"}, {"tools": [weather], "tool_choice": "always"}, {"tools": [{"type": "function"}]},
           {"tools": [weather], "tool_choice": {"type": "function", "function": {"name": "get_time"}}})
    for body in bad:
        with pytest.raises(RequestError):
            tool_plan(body)
    assert forced_tool_call('{"name": "get_time", "arguments": {"zone": "UTC"}}')[0]["function"] == {"name": "get_time", "arguments": '{"zone": "UTC"}'}
    assert forced_tool_call('{"name": "get_time", "argu') == []  # cut short by max_tokens


def test_streamed_text_is_held_back_only_where_a_tool_call_tag_may_start():
    assert _before_possible_tag("Sure, checking") == "Sure, checking"
    assert _before_possible_tag("Sure <tool") == "Sure "
    assert _before_possible_tag("Sure <tool_call>{\"name\"") == "Sure "
    assert _before_possible_tag("a < b") == "a < b"


def test_logit_bias_steers_and_is_checked(folder):
    engine = _engine(folder)
    prompt = list(range(10, 30))
    params = {"max_tokens": 6, "temperature": 0, "ignore_eos": True}
    free = engine.generate([prompt], SamplingParams(**params))[0]
    banned = engine.generate([prompt], SamplingParams(**params, logit_bias={free[0]: -100}))[0]
    forced = engine.generate([prompt], SamplingParams(**params, logit_bias={7: 100}))[0]
    assert banned[0] != free[0] and forced == [7] * 6
    assert sampling_params({"logit_bias": {"7": 5}}, chat=True).logit_bias == {7: 5}
    for bad in ({"x": 1}, {"7": 101}, [1]):
        with pytest.raises((RequestError, ValueError)):
            sampling_params({"logit_bias": bad}, chat=True)
    with pytest.raises(RequestError, match="logit_bias"):
        _run(engine, prompt, SamplingParams(max_tokens=2, logit_bias={10**7: 1}))


def test_json_object_mode_allows_objects_only(folder):
    from local_engine.json_mode import JsonGrammars

    engine = _engine(folder)
    grammars = JsonGrammars(engine.tokenizer, engine.model_config.vocab_size)
    assert not grammars.matcher(SamplingParams(json_object=True)).accept_string("[1]")
    assert not grammars.matcher(SamplingParams(json_object=True)).accept_string("2019")
    assert grammars.matcher(SamplingParams(json_object=True)).accept_string('{"a": [1]}')


def test_a_reply_cut_inside_a_character_keeps_the_characters_before_it():
    from local_engine.tokenizer import IncrementalDetokenizer

    class ByteTokens:  # one token per UTF-8 byte, decoded the way a byte-level BPE decodes
        @staticmethod
        def decode(ids: list[int]) -> str:
            return bytes(ids).decode("utf-8", errors="replace")

    detok = IncrementalDetokenizer(ByteTokens())  # type: ignore[arg-type]
    wave, tone = "👋".encode(), "🏽".encode()
    # The last token ends the wave and starts the skin tone, which the reply never finishes.
    tokens = [[ord("a")], [ord("b")], list(wave[:3]), list(wave[3:] + tone[:3])]
    streamed = "".join(detok.push(t) for t in tokens)
    assert streamed == "ab"  # while the reply goes on, an incomplete tail is held back
    assert streamed + detok.flush() == "ab👋"
    assert detok.flush() == ""


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("ignore_eos", "false", "'ignore_eos' must be true or false"),
        ("logprobs", "yes", "'logprobs' must be true or false"),
        ("top_logprobs", "3", "'top_logprobs' must be an integer"),
        ("max_tokens", 2.5, "'max_tokens' must be an integer"),
        ("max_tokens", True, "'max_tokens' must be an integer"),
        ("stop_token_ids", 5, "'stop_token_ids' must be a list of token ids"),
    ],
)
def test_loosely_typed_fields_are_refused_not_guessed(field, value, message):
    with pytest.raises(RequestError, match=message):
        sampling_params({"messages": [], field: value}, chat=True)
    assert sampling_params({"ignore_eos": False, "logprobs": None, "max_tokens": 5}, chat=True).ignore_eos is False




def test_a_stop_string_completed_by_a_speculated_token_ends_the_reply_and_its_count_there(folder):
    """Speculation accepts several tokens in one step: the ones after the token that completes a
    stop string are neither kept nor counted (usage used to include them)."""
    engine = _engine(folder, speculative_ngram=False)
    tok = engine.tokenizer
    letters = [i for i in range(tok.vocab_size) if (t := tok.decode([i])).isascii() and t.isalpha() and len(t) == 1]
    stop = "QZ"  # completed by the second token of the accepted run
    a, x, b, c = (next(i for i in letters if tok.decode([i]) == ch) for ch in "JQZK")
    engine.add_request("r", [7, 8, 9, 10, 11, 12] * 5, SamplingParams(max_tokens=24, temperature=0, ignore_eos=True, stop=[stop]))
    engine.step()  # the prompt and a first token
    state = engine.requests["r"]
    assert not state.seq.is_finished and "Q" not in state.text
    before = state.seq.num_output_tokens
    out = engine._append(state.seq, [x, a, b, c], [])  # "QJZK": no stop yet
    assert out.finish_reason is None and state.seq.num_output_tokens == before + 4
    out = engine._append(state.seq, [x, b, a, c], [])  # as if a draft of four were accepted at once: "Q", "Z" ends it
    assert out.finish_reason == "stop" and out.completion_tokens == before + 4 + 2
    assert state.text.endswith("QJZK") and "QZ" not in state.text
