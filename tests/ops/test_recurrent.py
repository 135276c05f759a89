"""The textbook step functions against torch's cells (gate order, layout) and autograd's gradients."""

import pytest
import torch

from litvision.ops.recurrent import (
    lstm_forward,
    lstm_step,
    lstm_weights_to_torch,
    rnn_forward,
    rnn_step,
    rnn_weights_to_torch,
    temporal_softmax_loss,
)

N, D, H, T = 3, 5, 4, 6


def _params(d, h, gates, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(d, gates * h, generator=g, dtype=torch.float64),
        torch.randn(h, gates * h, generator=g, dtype=torch.float64),
        torch.randn(gates * h, generator=g, dtype=torch.float64),
    )


def test_rnn_step_matches_the_notes_formula_and_torch_rnncell():
    Wx, Wh, b = _params(D, H, 1)
    x, h = torch.randn(N, D, dtype=torch.float64), torch.randn(N, H, dtype=torch.float64)
    ours = rnn_step(x, h, Wx, Wh, b)
    assert torch.allclose(ours, torch.tanh(x @ Wx + h @ Wh + b))
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh").double()
    cell.load_state_dict(rnn_weights_to_torch(Wx, Wh, b))
    assert torch.allclose(ours, cell(x, h), atol=1e-12)


def test_lstm_step_gate_order_ifog_matches_torch_lstmcell_ifgo():
    Wx, Wh, b = _params(D, H, 4)
    x = torch.randn(N, D, dtype=torch.float64)
    h, c = torch.randn(N, H, dtype=torch.float64), torch.randn(N, H, dtype=torch.float64)
    next_h, next_c = lstm_step(x, h, c, Wx, Wh, b)
    cell = torch.nn.LSTMCell(D, H).double()
    cell.load_state_dict(lstm_weights_to_torch(Wx, Wh, b))
    ref_h, ref_c = cell(x, (h, c))
    assert torch.allclose(next_h, ref_h, atol=1e-12) and torch.allclose(next_c, ref_c, atol=1e-12)
    # the mapping matters: torch's own order (no reorder) gives a different cell
    cell.weight_ih.data = Wx.T.contiguous()
    cell.weight_hh.data = Wh.T.contiguous()
    assert not torch.allclose(cell(x, (h, c))[0], ref_h)


def test_lstm_step_hand_computed_gates():
    # one unit: a = [ai, af, ao, ag] = b, so next_c = s(bf) c + s(bi) tanh(bg), next_h = s(bo) tanh(next_c)
    b = torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=torch.float64)
    zero = torch.zeros(1, 4, dtype=torch.float64)
    c = torch.tensor([[0.7]], dtype=torch.float64)
    x = h = torch.zeros(1, 1, dtype=torch.float64)
    next_h, next_c = lstm_step(x, h, c, zero, zero, b)
    s = torch.sigmoid
    expect_c = s(b[1]) * 0.7 + s(b[0]) * torch.tanh(b[3])
    assert next_c.item() == pytest.approx(expect_c.item())
    assert next_h.item() == pytest.approx((s(b[2]) * torch.tanh(expect_c)).item())


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_sequence_loops_match_torch_layers_values_and_gradients(kind):
    gates = 4 if kind == "lstm" else 1
    Wx, Wh, b = (p.requires_grad_() for p in _params(D, H, gates, seed=1))
    x = torch.randn(N, T, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    ours = (lstm_forward if kind == "lstm" else rnn_forward)(x, h0, Wx, Wh, b)
    layer = (torch.nn.LSTM if kind == "lstm" else torch.nn.RNN)(D, H, batch_first=True).double()
    convert = lstm_weights_to_torch if kind == "lstm" else rnn_weights_to_torch
    layer.load_state_dict({f"{k}_l0": v.detach() for k, v in convert(Wx, Wh, b).items()})
    state = (h0[None], torch.zeros_like(h0)[None]) if kind == "lstm" else h0[None]
    ref, _ = layer(x, state)
    assert torch.allclose(ours, ref, atol=1e-12)
    weights = torch.randn_like(ours)
    grad_ours = torch.autograd.grad((ours * weights).sum(), (x, h0))
    grad_ref = torch.autograd.grad((ref * weights).sum(), (x, h0))
    for a, r in zip(grad_ours, grad_ref):
        assert torch.allclose(a, r, atol=1e-10)


def test_temporal_softmax_loss_ignores_null_and_divides_by_batch():
    scores = torch.zeros(2, 3, 4, dtype=torch.float64)  # uniform: -log(1/4) per counted step
    targets = torch.tensor([[1, 2, 0], [3, 0, 0]])
    assert temporal_softmax_loss(scores, targets).item() == pytest.approx(3 * torch.log(torch.tensor(4.0)).item() / 2)
