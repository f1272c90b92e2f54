"""Next-token sampling: penalties, temperature, top-k, top-p, per-request seeds, logprobs."""

from __future__ import annotations

import torch

from local_engine.sequence import Sequence, TokenLogprob

Tensor = torch.Tensor


def apply_penalties(logits: Tensor, seq: Sequence) -> Tensor:
    """Repetition (HF, prompt+output), frequency and presence (OpenAI, output only) penalties and
    OpenAI's logit_bias, in place."""
    p = seq.params
    if p.logit_bias:
        ids = torch.tensor(list(p.logit_bias), dtype=torch.long, device=logits.device)
        logits[ids] += torch.tensor(list(p.logit_bias.values()), dtype=logits.dtype, device=logits.device)
    if p.repetition_penalty != 1.0:
        ids = torch.tensor(sorted(set(seq.token_ids)), dtype=torch.long, device=logits.device)
        picked = logits[ids]
        logits[ids] = torch.where(picked > 0, picked / p.repetition_penalty, picked * p.repetition_penalty)
    if (p.frequency_penalty or p.presence_penalty) and seq.output_counts:
        ids = torch.tensor(list(seq.output_counts), dtype=torch.long, device=logits.device)
        counts = torch.tensor(list(seq.output_counts.values()), dtype=logits.dtype, device=logits.device)
        logits[ids] -= p.frequency_penalty * counts + p.presence_penalty
    return logits


def top_k_top_p_filter(logits: Tensor, top_k: Tensor, top_p: Tensor) -> Tensor:
    """Mask logits [N, V] outside each row's top-k / nucleus (top_k 0 = off, top_p 1 = off)."""
    vocab = logits.shape[-1]
    k = torch.where(top_k > 0, top_k.clamp(max=vocab), torch.full_like(top_k, vocab))
    sorted_logits, sorted_idx = logits.sort(dim=-1, descending=True)
    ranks = torch.arange(vocab, device=logits.device).expand_as(sorted_logits)
    remove = ranks >= k[:, None]
    probs = sorted_logits.masked_fill(remove, float("-inf")).softmax(dim=-1)
    cum_before = probs.cumsum(dim=-1) - probs
    remove |= cum_before >= top_p[:, None]  # keeps the token that crosses top_p, and always the first
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, sorted_idx, sorted_logits)


def compute_logprobs(raw_logits: Tensor, token_ids: list[int], top_n: list[int]) -> list[TokenLogprob]:
    """Log-probabilities of the model's distribution (before sampling transforms) for chosen tokens."""
    logp = raw_logits.float().log_softmax(dim=-1)
    chosen = logp.gather(1, torch.tensor(token_ids, device=logp.device)[:, None])[:, 0].tolist()
    k = max(top_n) if top_n else 0
    top_vals, top_ids = logp.topk(k, dim=-1) if k else (None, None)
    out = []
    for r, tok in enumerate(token_ids):
        top = []
        if top_n[r]:
            top = list(zip(top_ids[r, : top_n[r]].tolist(), top_vals[r, : top_n[r]].tolist(), strict=True))
        out.append(TokenLogprob(tok, chosen[r], top))
    return out


class Sampler:
    def _generator(self, seq: Sequence) -> torch.Generator:
        if seq.generator is None:
            seq.generator = torch.Generator().manual_seed(seq.params.seed)
        return seq.generator

    def sample(self, logits: Tensor, seqs: list[Sequence]) -> list[int]:
        """One next token per row of `logits` [N, V] (already grammar-masked where needed)."""
        logits = logits.float()
        if any(s.params.has_penalties for s in seqs):
            logits = logits.clone()  # the caller keeps the raw logits for logprobs
        for r, seq in enumerate(seqs):
            if seq.params.has_penalties:
                apply_penalties(logits[r], seq)
        greedy = [s.params.greedy for s in seqs]
        out = logits.argmax(dim=-1).tolist() if any(greedy) else [0] * len(seqs)
        sampled = [r for r, g in enumerate(greedy) if not g]
        if sampled:
            rows = logits[sampled]
            temps = torch.tensor([seqs[r].params.temperature for r in sampled], device=rows.device)
            rows = rows / temps[:, None]
            top_k = torch.tensor([seqs[r].params.top_k for r in sampled], device=rows.device)
            top_p = torch.tensor([seqs[r].params.top_p for r in sampled], device=rows.device)
            if bool((top_k > 0).any()) or bool((top_p < 1).any()):
                rows = top_k_top_p_filter(rows, top_k, top_p)
            probs = rows.softmax(dim=-1)
            # A temperature so small that logits / t overflow leaves no distribution: such a row
            # is greedy in all but name, so it takes the argmax instead of failing the whole step.
            broken = ~torch.isfinite(probs).all(dim=-1)
            if bool(broken.any()):
                probs[broken] = torch.nn.functional.one_hot(logits[sampled][broken].argmax(dim=-1), probs.shape[-1]).to(probs.dtype)
            seeded = [i for i, r in enumerate(sampled) if seqs[r].params.seed is not None]
            free = [i for i, r in enumerate(sampled) if seqs[r].params.seed is None]
            if free:  # one batched draw on the logits' device
                picks = torch.multinomial(probs[free], 1).squeeze(1).tolist()
                for i, tok in zip(free, picks, strict=True):
                    out[sampled[i]] = tok
            for i in seeded:  # per-request generator: reproducible whatever the batch
                r = sampled[i]
                out[r] = int(torch.multinomial(probs[i].cpu(), 1, generator=self._generator(seqs[r])))
        return out
