import pytest
from tests_cache_helpers import answer, make_memory_index, unit

from cache.semantic_index import Partition
from cache.semantic_request import Ineligible, SemanticQuery, semantic_query


def req(*messages, **params):
    return {"model": "m", "messages": list(messages), **params}


USER = {"role": "user", "content": "How do I bake bread?"}


def test_question_and_context_split():
    q = semantic_query(req({"role": "system", "content": "S"}, USER, temperature=0))
    assert isinstance(q, SemanticQuery) and q.question == "How do I bake bread?"
    same_context = semantic_query(req({"role": "system", "content": "S"}, {"role": "user", "content": "Bread baking?"}, temperature=0))
    assert same_context.context_hash == q.context_hash
    assert semantic_query(req({"role": "system", "content": "T"}, USER, temperature=0)).context_hash != q.context_hash
    assert semantic_query(req({"role": "system", "content": "S"}, USER, temperature=0, max_tokens=9)).context_hash != q.context_hash


@pytest.mark.parametrize(
    "request_,reason",
    [
        (req(USER, tools=[{"type": "function", "function": {"name": "f"}}]), "request offers tools"),
        (req(USER, tool_choice="auto"), "request sets tool_choice"),
        (req(USER, n=3), "more than one choice requested"),
        (req(USER, logprobs=True), "log-probabilities requested"),
        (req(USER, {"role": "assistant", "content": "ok"}), "last message is not a user turn"),
        (req({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]}), "last user turn is not plain text"),
        (req({"role": "user", "content": "   "}), "empty question"),
        (req({"role": "user", "content": "x" * 801}), "question longer than 800 characters"),
        (req({"role": "tool", "tool_call_id": "c", "content": "r"}, USER), "conversation holds tool calls"),
    ],
)
def test_ineligible_requests(request_, reason):
    result = semantic_query(request_)
    assert isinstance(result, Ineligible) and result.reason == reason


def test_memory_index_lru_bound():
    index = make_memory_index(max_entries=3)
    p = Partition("s", "c")
    ids = [index.add(p, f"q{i}", unit(i), answer(str(i))) for i in range(3)]
    index.search(p, unit(0), k=1)  # touch q0
    index.add(p, "q3", unit(3), answer("3"))
    assert len(index) == 3
    questions = {c.question for i in range(4) for c in index.search(p, unit(i), k=4)}
    assert questions == {"q0", "q2", "q3"}
    assert ids[1] not in {c.entry_id for c in index.search(p, unit(1), k=4)}


def test_memory_index_drops_empty_partitions():
    index = make_memory_index()
    entry_id = index.add(Partition("s", "c"), "q", unit(0), answer("a"))
    assert index.partitions == 1
    index.delete(Partition("s", "c"), entry_id)
    assert index.partitions == 0 and len(index) == 0


@pytest.mark.parametrize(
    "text",
    [
        "She have a apple.",  # under a proofreading system prompt: the turn is text to work on
        "hello world",
        "Translate to French: I really like it.",
        "Summarize this article for me",
        "Why is this slow?\nfor i in range(10): print(i)",  # a question with its data below
    ],
)
def test_a_last_turn_that_is_no_question_gets_exact_hits_only(text):
    result = semantic_query(req({"role": "system", "content": "Correct the user's grammar."}, {"role": "user", "content": text}))
    assert isinstance(result, Ineligible) and "not a question" in result.reason


@pytest.mark.parametrize("text", ["How do I bake bread?", "what is the capital of france", "Explain recursion", "Is it safe to swim after eating"])
def test_questions_and_requests_for_explanations_are_eligible(text):
    assert isinstance(semantic_query(req({"role": "user", "content": text})), SemanticQuery)


def test_a_question_the_embedder_would_cut_short_gets_exact_hits_only():
    numbers = ", ".join(str(1000 + 7 * i) for i in range(110))
    question = f"Given the numbers {numbers}, which of them could a two-year-old count to?"
    assert len(question) <= 800
    result = semantic_query(req({"role": "user", "content": question}))
    assert isinstance(result, Ineligible) and "word pieces" in result.reason


@pytest.mark.parametrize(
    "instruction",
    [
        "Translate the user's message into French.",
        "You are a translator.",
        "Summarize what the user says in one line.",
        "Count the words in the user's message.",
        "Extract the names from the text.",
        "Reply in upper-case.",
    ],
)
def test_instructions_that_make_the_question_text_to_work_on_get_exact_hits_only(instruction):
    """Under "translate the user's message", two questions asking the same want different outputs."""
    for context in ([{"role": "system", "content": instruction}], [{"role": "user", "content": instruction}, {"role": "assistant", "content": "OK."}]):
        result = semantic_query(req(*context, USER))
        assert isinstance(result, Ineligible) and "text to work on" in result.reason


@pytest.mark.parametrize("instruction", ["You are a helpful assistant.", "Format your answers in markdown.", "Answer the user's question truthfully."])
def test_ordinary_system_prompts_keep_the_semantic_cache(instruction):
    assert isinstance(semantic_query(req({"role": "system", "content": instruction}, USER)), SemanticQuery)
