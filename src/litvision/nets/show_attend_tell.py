"""Soft-attention captioner of Xu et al., "Show, Attend and Tell: Neural Image Caption Generation with
Visual Attention" (ICML 2015), over a frozen backbone's spatial grid of features.

At every word the LSTM's previous state scores each grid position (additive attention,
e_ti = w^T tanh(W_a a_i + W_h h_{t-1})), the softmax of the scores (alpha) weights the positions into
a context vector z_t, scaled by the gate beta = sigmoid(f_beta(h_{t-1})) (the paper's sec. 4.2.1);
the LSTM gets [embedding of the previous word, z_t], and the paper's deep output layer scores the
vocabulary: L_o(E y_{t-1} + L_h h_t + L_z z_t), with dropout. h0 and c0 come from the mean of the
grid through two affine layers. The doubly stochastic regulariser lives in litvision.ops.attention.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ShowAttendTell(nn.Module):
    """vocab_size: V; feature_dim: C, the channels of the (N, C, h, w) grid."""

    def __init__(
        self,
        vocab_size: int,
        feature_dim: int,
        wordvec_dim: int = 256,
        hidden_dim: int = 512,
        attention_dim: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.vocab_size, self.feature_dim = vocab_size, feature_dim
        self.init_h = nn.Linear(feature_dim, hidden_dim)
        self.init_c = nn.Linear(feature_dim, hidden_dim)
        self.embed = nn.Embedding(vocab_size, wordvec_dim)
        self.attend_features = nn.Linear(feature_dim, attention_dim)
        self.attend_hidden = nn.Linear(hidden_dim, attention_dim)
        self.attend_score = nn.Linear(attention_dim, 1)
        self.gate = nn.Linear(hidden_dim, feature_dim)
        self.cell = nn.LSTMCell(wordvec_dim + feature_dim, hidden_dim)
        self.out_hidden = nn.Linear(hidden_dim, wordvec_dim)
        self.out_context = nn.Linear(feature_dim, wordvec_dim)
        self.out = nn.Linear(wordvec_dim, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def initial_state(self, grid: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) grid -> the decoder state: h, c (N, H) and the positions (N, L, C) with their
        attention projections (N, L, A), computed once per image."""
        positions = grid.flatten(2).transpose(1, 2)
        mean = positions.mean(dim=1)
        return {
            "h": torch.tanh(self.init_h(mean)),
            "c": torch.tanh(self.init_c(mean)),
            "positions": positions,
            "keys": self.attend_features(positions),
        }

    def _step(self, embedded: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        h, c = state["h"], state["c"]
        scores = self.attend_score(torch.tanh(state["keys"] + self.attend_hidden(h)[:, None])).squeeze(-1)
        alpha = scores.softmax(dim=-1)  # (N, L)
        context = (alpha[..., None] * state["positions"]).sum(dim=1)
        context = torch.sigmoid(self.gate(h)) * context
        h, c = self.cell(torch.cat([embedded, context], dim=-1), (h, c))
        logits = self.out(self.dropout(embedded + self.out_hidden(h) + self.out_context(context)))
        return logits, {**state, "h": h, "c": c}, alpha

    def forward(self, grid: Tensor, captions_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: (N, C, h, w) grid and (N, T) input words -> ((N, T, V) scores, (N, T, L) attention)."""
        state = self.initial_state(grid)
        embedded = self.embed(captions_in)
        scores, alphas = [], []
        for t in range(captions_in.shape[1]):
            logits, state, alpha = self._step(embedded[:, t], state)
            scores.append(logits)
            alphas.append(alpha)
        return torch.stack(scores, dim=1), torch.stack(alphas, dim=1)

    def step(self, words: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """One decoding step: (N,) previous words -> ((N, V) log-probabilities, new state,
        {"attention": (N, L)})."""
        logits, state, alpha = self._step(self.embed(words), state)
        return torch.log_softmax(logits, dim=-1), state, {"attention": alpha}
