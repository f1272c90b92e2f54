"""JSON mode (response_format json_object / json_schema) by constrained decoding with xgrammar."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import torch

from local_engine.sequence import SamplingParams
from local_engine.tokenizer import Tokenizer

# json_object means "a JSON object" (OpenAI's guarantee), not any JSON value such as [1].
ANY_OBJECT_SCHEMA = json.dumps({"type": "object"})


class GrammarError(ValueError):
    """The requested JSON schema could not be compiled."""


def _vocab_type(tokenizer: Tokenizer) -> Any:
    import xgrammar as xgr

    decoder = json.loads(tokenizer.tok.to_str()).get("decoder") or {}
    kinds = {decoder.get("type")} | {d.get("type") for d in decoder.get("decoders", []) or []}
    if "ByteLevel" in kinds:
        return xgr.VocabType.BYTE_LEVEL
    if "ByteFallback" in kinds:
        return xgr.VocabType.BYTE_FALLBACK
    return xgr.VocabType.RAW


class JsonGrammars:
    """Compiles JSON grammars for one tokenizer and masks logits of constrained requests."""

    def __init__(self, tokenizer: Tokenizer, vocab_size: int):
        import xgrammar as xgr

        self.xgr = xgr
        vocab = tokenizer.tok.get_vocab(with_added_tokens=True)
        encoded = [""] * vocab_size
        special = {t.content for t in tokenizer.tok.get_added_tokens_decoder().values() if t.special}
        for token, idx in vocab.items():
            if idx < vocab_size:
                encoded[idx] = "" if token in special else token
        info = xgr.TokenizerInfo(encoded, _vocab_type(tokenizer), vocab_size=vocab_size, stop_token_ids=tokenizer.eos_token_ids or None)
        self.compiler = xgr.GrammarCompiler(info)
        self.vocab_size = vocab_size
        self._compile_schema = lru_cache(maxsize=64)(self._compile_schema_uncached)

    def _compile_schema_uncached(self, schema: str) -> Any:
        try:
            # Compact JSON: a small model left free to place whitespace drifts into runs of newlines.
            return self.compiler.compile_json_schema(schema, any_whitespace=False)
        except (RuntimeError, ValueError) as exc:
            raise GrammarError(f"response_format json_schema is not a usable JSON schema: {exc}") from exc

    def matcher(self, params: SamplingParams) -> Any:
        compiled = self._compile_schema(params.json_schema if params.json_schema is not None else ANY_OBJECT_SCHEMA)
        return self.xgr.GrammarMatcher(compiled)

    def mask(self, logits: torch.Tensor, rows: list[int], matchers: list[Any]) -> None:
        """Forbid, in place, every token the grammar does not allow next in the given rows."""
        bitmask = self.xgr.allocate_token_bitmask(len(rows), self.vocab_size)
        for i, m in enumerate(matchers):
            m.fill_next_token_bitmask(bitmask, i)
        sub = logits[rows].float().cpu()
        self.xgr.apply_token_bitmask_inplace(sub, bitmask, vocab_size=self.vocab_size)
        logits[rows] = sub.to(logits.device, logits.dtype)
