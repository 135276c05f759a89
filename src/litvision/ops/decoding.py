"""Caption decoding by greedy search (cs231n's `sample`) and beam search, batched over images.

Both drive a `step(words (M,), state) -> (log_probs (M, V), state, extras)` function, where every
state and extras tensor has M rows (one per image, or per image and beam). Unfinished captions may
not produce <NULL> or <START>; a caption ends at <END> or after `max_length` generated tokens
(<END> included). Written by hand: torch has no sequence-decoding utilities.

Beam search keeps, per image, the `beam_size` best sequences by total log-probability; a finished
sequence stays in its beam with a frozen score (its only continuation is <NULL> at log-probability
0), so it competes with the unfinished ones until the end. The best beam wins, its score divided by
length ** length_penalty (0: plain log-probability).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

StepFn = Callable[[Tensor, dict[str, Tensor]], tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]]


@dataclass
class Decoded:
    tokens: Tensor  # (N, max_length) generated ids, <NULL> after <END>
    log_prob: Tensor  # (N,) total log-probability of each caption
    extras: dict[str, Tensor]  # per step, e.g. "attention": (N, max_length, L); zeros after <END>


def _forbid(log_probs: Tensor, ids: tuple[int, ...]) -> Tensor:
    log_probs = log_probs.clone()
    log_probs[:, list(ids)] = float("-inf")
    return log_probs


def greedy_decode(
    step: StepFn, state: dict[str, Tensor], start_id: int, end_id: int, null_id: int, max_length: int = 30
) -> Decoded:
    n = next(iter(state.values())).shape[0]
    device = next(iter(state.values())).device
    words = torch.full((n,), start_id, dtype=torch.long, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    total = torch.zeros(n, device=device)
    tokens, extras_steps = [], []
    for _ in range(max_length):
        log_probs, state, extras = step(words, state)
        log_probs = _forbid(log_probs, (null_id, start_id))
        best, words = log_probs.max(dim=-1)
        words = words.masked_fill(finished, null_id)
        total = total + best.masked_fill(finished, 0.0)
        tokens.append(words)
        extras_steps.append({k: v.masked_fill(finished.view(-1, *[1] * (v.dim() - 1)), 0) for k, v in extras.items()})
        finished = finished | (words == end_id)
        if finished.all():
            break
    return _padded(tokens, extras_steps, total, max_length, null_id)


def beam_search(
    step: StepFn,
    state: dict[str, Tensor],
    start_id: int,
    end_id: int,
    null_id: int,
    beam_size: int = 3,
    max_length: int = 30,
    length_penalty: float = 0.0,
) -> Decoded:
    n = next(iter(state.values())).shape[0]
    device = next(iter(state.values())).device
    k = beam_size
    state = {name: value.repeat_interleave(k, dim=0) for name, value in state.items()}
    words = torch.full((n * k,), start_id, dtype=torch.long, device=device)
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the first step expands one beam per image, not k copies of it
    finished = torch.zeros(n * k, dtype=torch.bool, device=device)
    lengths = torch.zeros(n * k, dtype=torch.long, device=device)
    history = torch.empty(n, k, 0, dtype=torch.long, device=device)
    extra_history: dict[str, Tensor] = {}
    offsets = (torch.arange(n, device=device) * k)[:, None]
    for _ in range(max_length):
        log_probs, state, extras = step(words, state)
        vocab = log_probs.shape[-1]
        log_probs = _forbid(log_probs, (null_id, start_id))
        # a finished beam continues only with <NULL>, at no cost
        frozen = torch.full_like(log_probs, float("-inf"))
        frozen[:, null_id] = 0.0
        log_probs = torch.where(finished[:, None], frozen, log_probs)
        candidates = (scores.view(-1, 1) + log_probs).view(n, k * vocab)
        scores, flat = candidates.topk(k, dim=-1)
        parent = flat // vocab + offsets  # (n, k) rows of the previous step
        words = (flat % vocab).view(-1)
        parent = parent.view(-1)
        state = {name: value.index_select(0, parent) for name, value in state.items()}
        was_finished = finished.index_select(0, parent)
        past_words = history.reshape(n * k, history.shape[-1]).index_select(0, parent)
        history = torch.cat([past_words, words[:, None]], dim=1).view(n, k, -1)
        for name, value in extras.items():
            value = value.index_select(0, parent).masked_fill(was_finished.view(-1, *[1] * (value.dim() - 1)), 0)
            past = extra_history.get(name)
            past = value.new_empty(n * k, 0, *value.shape[1:]) if past is None else past.index_select(0, parent)
            extra_history[name] = torch.cat([past, value[:, None]], dim=1)
        lengths = lengths.index_select(0, parent) + (~was_finished).long()
        finished = was_finished | (words == end_id)
        if finished.all():
            break
    ranked = scores / lengths.view(n, k).clamp_min(1).float() ** length_penalty
    best = ranked.argmax(dim=-1)
    rows = torch.arange(n, device=device)
    chosen = rows * k + best
    tokens = list(history[rows, best].unbind(dim=1))
    extras_steps = [{name: value[chosen, t] for name, value in extra_history.items()} for t in range(len(tokens))]
    return _padded(tokens, extras_steps, scores[rows, best], max_length, null_id)


def _padded(
    tokens: list[Tensor], extras_steps: list[dict[str, Tensor]], total: Tensor, max_length: int, null_id: int
) -> Decoded:
    ids = torch.stack(tokens, dim=1)
    ids = torch.nn.functional.pad(ids, (0, max_length - ids.shape[1]), value=null_id)
    extras = {}
    for name in extras_steps[0] if extras_steps else ():
        stacked = torch.stack([e[name] for e in extras_steps], dim=1)
        pad = [0, 0] * (stacked.dim() - 2) + [0, max_length - stacked.shape[1]]
        extras[name] = torch.nn.functional.pad(stacked, pad)
    return Decoded(ids, total, extras)
