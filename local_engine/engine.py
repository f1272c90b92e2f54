"""The synchronous engine: requests in, one scheduler step at a time, token deltas out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import torch

from local_engine.block_manager import BlockManager
from local_engine.config import EngineConfig
from local_engine.loader import LoadedModel, load_model
from local_engine.model_runner import ModelRunner, kv_cache_num_blocks
from local_engine.sampler import Sampler, compute_logprobs
from local_engine.scheduler import ScheduledSeq, Scheduler
from local_engine.sequence import SamplingParams, Sequence, TokenLogprob
from local_engine.speculative import propose_ngram
from local_engine.tokenizer import IncrementalDetokenizer

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request the engine cannot serve (too long, bad ids, bad grammar): a client error.
    `code` is OpenAI's error code where one fits ("context_length_exceeded")."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass
class RequestOutput:
    """What one step produced for one request: a delta, plus running totals."""

    request_id: str
    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob] | None
    finished: bool
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass
class _RequestState:
    seq: Sequence
    detok: IncrementalDetokenizer
    text: str = ""
    emitted: int = 0  # characters of text already returned
    pending_logprobs: list[TokenLogprob] = field(default_factory=list)


class LLMEngine:
    def __init__(self, cfg: EngineConfig, loaded: LoadedModel | None = None):
        if cfg.cpu_threads:
            torch.set_num_threads(cfg.cpu_threads)
        self.cfg = cfg
        self.loaded = loaded or load_model(cfg.model, cfg.device, cfg.dtype, cfg.linear_mode)
        self.tokenizer = self.loaded.tokenizer
        self.model_config = self.loaded.config
        model = self.loaded.model
        self.max_model_len = min(cfg.max_model_len or model.max_context_len, model.max_context_len)
        num_blocks = kv_cache_num_blocks(model, cfg)
        self.block_manager = BlockManager(num_blocks, cfg.block_size, cfg.enable_prefix_caching)
        self.scheduler = Scheduler(self.block_manager, cfg.max_num_seqs, cfg.max_num_batched_tokens)
        self.runner = ModelRunner(model, cfg, num_blocks, self.max_model_len)
        self.sampler = Sampler()
        self.requests: dict[str, _RequestState] = {}
        self._grammars = None
        self.stats = {"draft_tokens": 0, "accepted_tokens": 0, "steps": 0, "preemptions": 0}

    @property
    def model_name(self) -> str:
        return self.cfg.served_model_name or self.loaded.name

    @property
    def grammars(self):  # built on first JSON-mode request (xgrammar vocab setup costs ~0.5 s)
        if self._grammars is None:
            from local_engine.json_mode import JsonGrammars

            self._grammars = JsonGrammars(self.tokenizer, self.model_config.vocab_size)
        return self._grammars

    # ---- requests -------------------------------------------------------------------------
    def check_request(self, prompt_token_ids: list[int], params: SamplingParams) -> None:
        """Raise RequestError for a request this engine cannot serve (safe from any thread)."""
        if not prompt_token_ids:
            raise RequestError("the prompt is empty")
        vocab = self.model_config.vocab_size
        if min(prompt_token_ids) < 0 or max(prompt_token_ids) >= vocab:
            raise RequestError(f"prompt token ids must be in [0, {vocab})")
        if len(prompt_token_ids) >= self.max_model_len:
            raise RequestError(f"the prompt has {len(prompt_token_ids)} tokens; this model's context is {self.max_model_len}",
                               code="context_length_exceeded")
        if any(token >= vocab for token in params.logit_bias):
            raise RequestError(f"logit_bias token ids must be in [0, {vocab})")
        if params.constrained:
            self._grammar_matcher(params)

    def _grammar_matcher(self, params: SamplingParams):
        from local_engine.json_mode import GrammarError

        try:
            return self.grammars.matcher(params)
        except GrammarError as exc:
            raise RequestError(str(exc)) from exc

    def add_request(self, request_id: str, prompt_token_ids: list[int], params: SamplingParams) -> None:
        if request_id in self.requests:
            raise RequestError(f"request id {request_id!r} is already in flight")
        self.check_request(prompt_token_ids, params)
        seq = Sequence(request_id, prompt_token_ids, params, self.cfg.block_size)
        if params.constrained:
            seq.grammar = self._grammar_matcher(params)
        self.requests[request_id] = _RequestState(seq, IncrementalDetokenizer(self.tokenizer, prompt_token_ids[-6:]))
        self.scheduler.add(seq)

    def abort(self, request_id: str) -> None:
        """Drop a request (client went away); its KV blocks are freed at once."""
        state = self.requests.pop(request_id, None)
        if state is not None and not state.seq.is_finished:
            self.scheduler.finish(state.seq, "abort")

    def has_unfinished(self) -> bool:
        return self.scheduler.has_work()

    # ---- one step ---------------------------------------------------------------------------
    def _speculates(self, seq: Sequence) -> bool:
        """Prompt-lookup drafts only for greedy requests without penalties or grammar: there
        verification is exact (argmax per position), so output is token-identical with it off.
        Sampled, penalised and JSON-mode requests decode one token per step."""
        p = seq.params
        return self.cfg.speculative_ngram and p.greedy and not p.has_penalties and seq.grammar is None

    def _drafts(self) -> dict[int, list[int]]:
        drafts: dict[int, list[int]] = {}
        if len(self.scheduler.running) > self.cfg.speculative_max_batch:
            return drafts
        for seq in self.scheduler.running:
            if seq.num_tokens - seq.num_computed_tokens != 1 or not self._speculates(seq):
                continue
            room = min(seq.params.max_tokens - seq.num_output_tokens, self.max_model_len - seq.num_tokens) - 1
            k = min(self.cfg.num_speculative_tokens, room)
            draft = propose_ngram(seq.token_ids, k, self.cfg.ngram_max, self.cfg.ngram_min)
            if draft:
                drafts[seq.seq_id] = draft
        return drafts

    def step(self) -> list[RequestOutput]:
        out = self.scheduler.schedule(self._drafts())
        self.stats["steps"] += 1
        self.stats["preemptions"] += len(out.preempted)
        results = [self._output(self.requests[s.request_id], [], []) for s in out.finished_unschedulable if s.request_id in self.requests]
        if not out.scheduled:
            self._drop_finished(results)
            return results
        logits = self.runner.run(out.scheduled)
        new_tokens = self._sample(out.scheduled, logits)
        for item, (tokens, logprobs) in zip(out.scheduled, new_tokens, strict=True):
            seq = item.seq
            if not item.samples:
                seq.num_computed_tokens += item.num_new_tokens
                self.block_manager.register_full_blocks(seq)
                continue
            seq.num_computed_tokens += item.num_new_tokens - len(item.draft_tokens) + (len(tokens) - 1)
            results.append(self._append(seq, tokens, logprobs))
        self._drop_finished(results)
        return results

    def _sample(self, batch: list[ScheduledSeq], logits: torch.Tensor) -> list[tuple[list[int], list[TokenLogprob]]]:
        """Per scheduled item: accepted new tokens (speculative: verified drafts + one) and logprobs."""
        rows_of: list[list[int]] = []
        r = 0
        for item in batch:
            n = 1 + len(item.draft_tokens) if item.samples else 0
            rows_of.append(list(range(r, r + n)))
            r += n
        plain = [i for i, item in enumerate(batch) if item.samples and not item.draft_tokens]
        result: list[tuple[list[int], list[TokenLogprob]]] = [([], []) for _ in batch]
        if plain:
            rows = [rows_of[i][0] for i in plain]
            seqs = [batch[i].seq for i in plain]
            work = logits[rows]
            constrained = [j for j, s in enumerate(seqs) if s.grammar is not None]
            if constrained:
                self.grammars.mask(work, constrained, [seqs[j].grammar for j in constrained])
            tokens = self.sampler.sample(work, seqs)
            for j, i in enumerate(plain):
                result[i] = ([tokens[j]], [])
        for i, item in enumerate(batch):
            if item.draft_tokens:
                self.stats["draft_tokens"] += len(item.draft_tokens)
                target = logits[rows_of[i]].argmax(dim=-1).tolist()
                accepted = 0
                while accepted < len(item.draft_tokens) and item.draft_tokens[accepted] == target[accepted]:
                    accepted += 1
                self.stats["accepted_tokens"] += accepted
                result[i] = (target[: accepted + 1], [])
        for i, item in enumerate(batch):
            p = item.seq.params
            if result[i][0] and (p.logprobs or p.top_logprobs):
                toks = result[i][0]
                raw = logits[rows_of[i][: len(toks)]]
                result[i] = (toks, compute_logprobs(raw, toks, [p.top_logprobs] * len(toks)))
        return result

    # ---- outputs ------------------------------------------------------------------------------
    def _append(self, seq: Sequence, tokens: list[int], logprobs: list[TokenLogprob]) -> RequestOutput:
        state = self.requests[seq.request_id]
        p = seq.params
        eos = set() if p.ignore_eos else set(self.model_config.eos_token_ids)
        accepted: list[int] = []
        visible: list[int] = []  # accepted tokens that are text (not the end-of-sequence or a stop token id)
        reason = None
        stopped_by_string = False
        for tok in tokens:
            seq.append_token(tok)
            accepted.append(tok)
            if seq.grammar is not None and not seq.grammar.is_terminated():
                seq.grammar.accept_token(tok)
            ends = tok in eos or tok in p.stop_token_ids
            if ends or (seq.grammar is not None and seq.grammar.is_terminated()):
                reason = "stop"
            elif seq.num_output_tokens >= p.max_tokens or seq.num_tokens >= self.max_model_len:
                reason = "length"
            if not ends:
                visible.append(tok)
                if p.stop:
                    # Token by token: a stop string completed by one speculated token ends the reply
                    # there, and the tokens speculated after it are neither kept nor counted.
                    state.text += state.detok.push([tok])
                    if self._apply_stop_strings(state, None):
                        reason, stopped_by_string = "stop", True
            if reason:
                break
        # The cache may only hold tokens that stay in the sequence.
        seq.num_computed_tokens = min(seq.num_computed_tokens, seq.num_tokens - 1)
        self.block_manager.register_full_blocks(seq)
        if visible and not p.stop:
            state.text += state.detok.push(visible)
        if reason and not stopped_by_string:
            state.text += state.detok.flush()
            if p.stop and self._apply_stop_strings(state, None):
                reason = "stop"
        if reason:
            self.scheduler.finish(seq, reason)
        # An end-of-sequence or stop token ends the reply without being part of its text.
        return self._output(state, accepted, logprobs[: len(visible)] if (p.logprobs or p.top_logprobs) else [])

    def _apply_stop_strings(self, state: _RequestState, reason: str | None) -> str | None:
        longest = max(len(s) for s in state.seq.params.stop)
        start = max(0, state.emitted - longest)
        hits = [(state.text.find(s, start), s) for s in state.seq.params.stop]
        hits = [(i, s) for i, s in hits if i >= 0]
        if hits:
            state.text = state.text[: min(i for i, _ in hits)]
            return "stop"
        return reason

    def _output(self, state: _RequestState, tokens: list[int], logprobs: list[TokenLogprob]) -> RequestOutput:
        seq = state.seq
        end = len(state.text)
        if not seq.is_finished and seq.params.stop:
            # hold back a tail that could still become a stop string
            for s in seq.params.stop:
                for k in range(min(len(s) - 1, end - state.emitted), 0, -1):
                    if state.text.endswith(s[:k]):
                        end = min(end, len(state.text) - k)
                        break
        delta = state.text[state.emitted : end] if end > state.emitted else ""
        state.emitted = max(state.emitted, end)
        return RequestOutput(
            request_id=seq.request_id,
            text=delta,
            token_ids=tokens,
            logprobs=logprobs if (seq.params.logprobs or seq.params.top_logprobs) else None,
            finished=seq.is_finished,
            finish_reason=seq.finish_reason,
            prompt_tokens=seq.prompt_len,
            completion_tokens=seq.num_output_tokens,
            cached_tokens=seq.num_cached_tokens,
        )

    def _drop_finished(self, results: list[RequestOutput]) -> None:
        for r in results:
            if r.finished:
                self.requests.pop(r.request_id, None)

    # ---- convenience ----------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]], params: SamplingParams | list[SamplingParams]) -> list[list[int]]:
        """Run prompts to completion (all submitted at once); output token ids per prompt."""
        params_list = params if isinstance(params, list) else [params] * len(prompts)
        ids = [f"gen-{uuid.uuid4().hex}" for _ in prompts]
        for rid, prompt, p in zip(ids, prompts, params_list, strict=True):
            self.add_request(rid, prompt, p)
        outputs: dict[str, list[int]] = {rid: [] for rid in ids}
        while any(rid in self.requests for rid in ids):
            for r in self.step():
                if r.request_id in outputs:
                    outputs[r.request_id].extend(r.token_ids)
        return [outputs[rid] for rid in ids]
