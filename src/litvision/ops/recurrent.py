"""The textbook recurrent layers of Stanford cs231n assignment 3 as plain tensor functions, in the
assignment's layout: `x @ Wx + prev_h @ Wh + b` with Wx (D, H) or (D, 4H), Wh (H, H) or (H, 4H).

The LSTM stacks its gates in the assignment's order i, f, o, g; torch.nn.LSTM / LSTMCell stack them
i, f, g, o and keep transposed weights with two biases. `lstm_weights_to_torch` /
`rnn_weights_to_torch` map one layout onto the other (tests/ops/test_recurrent.py proves it against
torch's cells). The models use torch's fused layers; these are the reference and the benchmark's
per-time-step baseline. Autograd gives the backward passes the notes derive by hand.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def rnn_step(x: Tensor, prev_h: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> Tensor:
    """One vanilla-RNN step: next_h = tanh(x Wx + prev_h Wh + b); x (N, D), prev_h (N, H) -> (N, H)."""
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def lstm_step(x: Tensor, prev_h: Tensor, prev_c: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM step with gates in the order i, f, o, g: a = x Wx + prev_h Wh + b (N, 4H);
    i, f, o = sigmoid, g = tanh; next_c = f * prev_c + i * g; next_h = o * tanh(next_c)."""
    a = x @ Wx + prev_h @ Wh + b
    ai, af, ao, ag = a.chunk(4, dim=1)
    i, f, o, g = torch.sigmoid(ai), torch.sigmoid(af), torch.sigmoid(ao), torch.tanh(ag)
    next_c = f * prev_c + i * g
    return o * torch.tanh(next_c), next_c


def rnn_forward(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> Tensor:
    """A vanilla RNN over a sequence, one `rnn_step` per time step: x (N, T, D), h0 (N, H) -> (N, T, H)."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t], h, Wx, Wh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def lstm_forward(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> Tensor:
    """An LSTM over a sequence, one `lstm_step` per time step, the cell starting at zero (as in the
    assignment): x (N, T, D), h0 (N, H) -> (N, T, H)."""
    h, c, hs = h0, torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def temporal_softmax_loss(scores: Tensor, targets: Tensor, ignore_index: int = 0) -> Tensor:
    """Cross-entropy of (N, T, V) scores against (N, T) targets, summed over the time steps whose
    target is not `ignore_index` (<NULL>) and divided by N, as the assignment defines it."""
    total = F.cross_entropy(scores.flatten(0, 1), targets.flatten(), ignore_index=ignore_index, reduction="sum")
    return total / scores.shape[0]


def _reorder_ifog_to_ifgo(stacked: Tensor, dim: int) -> Tensor:
    i, f, o, g = stacked.chunk(4, dim=dim)
    return torch.cat([i, f, g, o], dim=dim)


def lstm_weights_to_torch(Wx: Tensor, Wh: Tensor, b: Tensor) -> dict[str, Tensor]:
    """The assignment's LSTM parameters (Wx (D, 4H), Wh (H, 4H), b (4H,), gates i, f, o, g) as the
    state of a torch.nn.LSTMCell (or layer 0 of nn.LSTM without the `_l0` suffix): weight_ih (4H, D),
    weight_hh (4H, H), bias_ih = b and bias_hh = 0, gates reordered to i, f, g, o."""
    return {
        "weight_ih": _reorder_ifog_to_ifgo(Wx, dim=1).T.contiguous(),
        "weight_hh": _reorder_ifog_to_ifgo(Wh, dim=1).T.contiguous(),
        "bias_ih": _reorder_ifog_to_ifgo(b, dim=0).clone(),
        "bias_hh": torch.zeros_like(b),
    }


def rnn_weights_to_torch(Wx: Tensor, Wh: Tensor, b: Tensor) -> dict[str, Tensor]:
    """The assignment's RNN parameters (Wx (D, H), Wh (H, H), b (H,)) as the state of a
    torch.nn.RNNCell (tanh): transposed weights, bias_ih = b and bias_hh = 0."""
    return {
        "weight_ih": Wx.T.contiguous(),
        "weight_hh": Wh.T.contiguous(),
        "bias_ih": b.clone(),
        "bias_hh": torch.zeros_like(b),
    }
