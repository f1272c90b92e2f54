from __future__ import annotations

import time

import pytest

from routing.request import plan_steps, strip_options, summarize_prompt, summarize_request, task_part


def test_summary_reads_the_last_user_turn_and_counts_the_rest() -> None:
    messages = [
        {"role": "system", "content": "You are a careful assistant. " * 50},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": "Compute 17 * 23."}, {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    tools = [{"type": "function", "function": {"name": "calc"}}]
    s = summarize_request(messages, tools=tools, tool_choice="required", response_format={"type": "json_schema"})
    assert s.task_text == "Compute 17 * 23."
    assert (s.user_turns, s.messages, s.tools_offered) == (2, 4, 1)
    assert s.tool_required and s.has_images
    assert s.response_format == "json_schema"
    assert s.system_chars == len("You are a careful assistant. " * 50)
    assert s.prompt_tokens > 300  # the system prompt counts toward tokens, not toward the task text


def test_tool_choice_auto_is_not_required_and_text_format_is_none() -> None:
    s = summarize_request([{"role": "user", "content": "hi"}], tools=[{}], tool_choice="auto", response_format={"type": "text"})
    assert not s.tool_required and s.response_format is None
    forced = summarize_request([{"role": "user", "content": "hi"}], tools=[{}], tool_choice={"type": "function", "function": {"name": "f"}})
    assert forced.tool_required
    for choice in (
        {"type": "custom", "custom": {"name": "apply_patch"}},
        {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "name": "f"}]}},
    ):
        assert summarize_request([{"role": "user", "content": "hi"}], tools=[{}], tool_choice=choice).tool_required, choice
    loose = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "name": "f"}]}}
    assert not summarize_request([{"role": "user", "content": "hi"}], tools=[{}], tool_choice=loose).tool_required


def test_few_shot_block_is_cut_to_the_last_question() -> None:
    shots = "".join(f"Question: example {i}?\nAnswer: worked answer {i}. The answer is {i}\n\n" for i in range(8))
    prompt = shots + "Question: Janet has 16 eggs and eats 3. How many are left?\nAnswer:"
    assert task_part(prompt) == "Janet has 16 eggs and eats 3. How many are left?"


def test_unlabelled_few_shot_block_is_cut_after_the_last_answered_example() -> None:
    instruction = 'Print only a single choice from "A" or "B" or "C" or "D" without explanation.'
    shot = "Which gas do plants take in?\nA) oxygen\nB) carbon dioxide\nC) helium\nD) neon\n" + instruction + "\nAnswer:\nB\n\n"
    question = "Lasers are used in surgery for\nA) incisions.\nB) disinfecting.\nC) lighting.\nD) stitching.\n" + instruction
    assert task_part(shot * 5 + question + "\nAnswer:") == question
    inline = "".join(f"Translate: word {i}\nOutput: mot {i}\n\n" for i in range(3)) + "Translate: the last word\nOutput:"
    assert task_part(inline) == "Translate: the last word\nOutput:"
    examples = "Write is_prime(n).\nInput: 29\nOutput: true\n\nInput: 15\nOutput: false\n\nMake it fast and explain it."
    assert task_part(examples) == examples  # a task's own examples: it does not end in an empty label


def test_multiple_choice_options_are_stripped() -> None:
    text = "Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Earth\nAnswer:"
    assert strip_options(text) == "Which planet is largest?"
    assert strip_options("A single line ending with a. b") == "A single line ending with a. b"


def test_long_turns_keep_head_and_tail() -> None:
    text = "INSTRUCTION: summarise. " + "filler words " * 2000 + "QUESTION: what is the total?"
    cut = task_part(text, max_chars=1000)
    assert len(cut) <= 1010 and cut.startswith("INSTRUCTION") and cut.endswith("what is the total?")


def test_bad_messages_give_clear_errors() -> None:
    with pytest.raises(TypeError, match="list of"):
        summarize_request("hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="message 0"):
        summarize_request([{"content": "no role"}])
    with pytest.raises(TypeError, match="content"):
        summarize_request([{"role": "user", "content": 42}])


def test_summarize_prompt_is_a_single_user_turn() -> None:
    s = summarize_prompt("What is 2 + 2?")
    assert s.user_turns == 1 and s.task_text == "What is 2 + 2?" and s.tools_offered == 0


def test_tools_enabled_unless_switched_off() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    messages = [{"role": "user", "content": "hi"}]
    assert summarize_request(messages, tools=[tool]).tools_enabled
    assert summarize_request(messages, tools=[tool], tool_choice="auto").tools_enabled
    assert not summarize_request(messages, tools=[tool], tool_choice="none").tools_enabled
    assert not summarize_request(messages).tools_enabled


def test_a_long_numbered_plan_in_the_last_turns_is_seen() -> None:
    plan = "\n".join(f"{i}. step {i}: edit module {i}" for i in range(1, 11))
    assert plan_steps(plan) == 10 and plan_steps("1. a\n2. b\n5. c") == 2
    assert plan_steps("Step 1: read\nStep 2: write\nStep 3: test") == 3
    followed = [{"role": "user", "content": "fix the bug"}, {"role": "assistant", "content": "Plan:\n" + plan}, {"role": "user", "content": "go on"}]
    assert summarize_request(followed).long_plan
    assert not summarize_request([{"role": "user", "content": "1. eggs\n2. milk\n3. bread"}]).long_plan


def test_line_patterns_stay_linear_on_a_flood_of_line_breaks() -> None:
    """`^\\s*` in multi-line mode let every line start scan all the line breaks after it: 20 KB of
    newlines held the event loop for 20 s. Linear now: milliseconds, so 5 s is a wide margin."""
    flood = "\n" * 50_000 + "1. go"
    started = time.perf_counter()
    assert plan_steps(flood) == 1 and task_part(flood).strip() == "1. go"
    assert time.perf_counter() - started < 5.0
