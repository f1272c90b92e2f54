"""Chat templates render like transformers' apply_chat_template, tools included."""

from __future__ import annotations

import pytest

from local_engine.chat_template import TemplateError, render_chat

# Shaped like Qwen2.5's template: tools via tojson, system fallback, raise_exception on bad roles.
TOOLS_TEMPLATE = """{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are helpful.' }}{%- endif %}
{{- "\\n\\n# Tools\\n\\n<tools>" }}
{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}
{{- "\\n</tools><|im_end|>\\n" }}
{%- elif messages[0]['role'] == 'system' %}
{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role not in ['system', 'user', 'assistant', 'tool'] %}{{ raise_exception('bad role ' + message.role) }}{% endif %}
{%- if message.role != 'system' %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris? ünï"}]


def _hf_tokenizer(tmp_path, template):
    from transformers import PreTrainedTokenizerFast

    from tests.local_engine.tiny_models import write_byte_tokenizer

    write_byte_tokenizer(tmp_path)
    return PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"), chat_template=template)


@pytest.mark.parametrize("with_tools", [True, False])
def test_matches_transformers(tmp_path, with_tools):
    tools = TOOLS if with_tools else None
    hf = _hf_tokenizer(tmp_path, TOOLS_TEMPLATE)
    expected = hf.apply_chat_template(MESSAGES, tools=tools, add_generation_prompt=True, tokenize=False)
    ours = render_chat(TOOLS_TEMPLATE, MESSAGES, tools=tools, add_generation_prompt=True)
    assert ours == expected
    assert ('"name": "get_weather"' in ours) is with_tools


def test_tools_reach_prompt_when_template_ignores_them():
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    text = render_chat(template, [{"role": "user", "content": "hi"}], tools=TOOLS)
    assert "get_weather" in text and text.endswith("<user>hi")


def test_earlier_tool_calls_and_results_reach_prompt_when_template_ignores_them():
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C and sunny"},
    ]
    text = render_chat(template, messages, tools=TOOLS)
    assert '<assistant><tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in text
    assert text.endswith("<user><tool_response>\n18C and sunny\n</tool_response>")


def test_raise_exception_surfaces_as_template_error():
    with pytest.raises(TemplateError, match="bad role robot"):
        render_chat(TOOLS_TEMPLATE, [{"role": "robot", "content": "x"}])


def test_generation_tag_and_loop_controls_render():
    template = (
        "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}"
        "{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}"
    )
    msgs = [{"role": "user", "content": str(i)} for i in range(4)]
    assert render_chat(template, msgs) == "[0][1]"
