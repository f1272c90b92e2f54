"""How litellm's errors reach the dispatcher and the client (gateway/providers/litellm_provider.py)."""

from __future__ import annotations

from gateway.providers.litellm_provider import _translate_error, load_litellm


def test_retry_after_is_read_from_the_upstreams_own_headers():
    litellm = load_litellm()
    exc = litellm.RateLimitError("slow down", llm_provider="anthropic", model="claude")
    exc.litellm_response_headers = {"retry-after": "2"}  # where litellm keeps the upstream's headers
    error = _translate_error(exc, "claude@anthropic/claude")
    assert error.status == 429 and error.retryable and error.retry_after == 2.0


def test_a_prompt_over_the_context_window_may_fall_back_to_another_deployment():
    litellm = load_litellm()
    exc = litellm.ContextWindowExceededError("prompt is too long: 250000 tokens > 200000 maximum", model="claude", llm_provider="anthropic")
    error = _translate_error(exc, "claude@anthropic/claude")
    assert error.status == 400 and error.code == "context_length_exceeded" and error.try_next


def test_the_clients_message_has_no_traceback_and_no_litellm_prefix():
    litellm = load_litellm()
    message = "litellm.APIConnectionError: string indices must be integers\nTraceback (most recent call last):\n  File \"/srv/x.py\", line 1"
    error = _translate_error(litellm.APIConnectionError(message, llm_provider="anthropic", model="claude"), "claude@anthropic/claude")
    assert "Traceback" not in error.message and "/srv/" not in error.message and "string indices" in error.message
    assert "litellm.APIConnectionError" not in error.message
