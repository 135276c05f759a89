"""cs231n assignment 3's fixed-value check of CaptioningRNN.loss, through the torch modules."""

import numpy as np
import pytest
import torch

from litvision.nets.captioning_rnn import CaptioningRNN, load_cs231n_parameters
from litvision.ops.recurrent import lstm_forward, rnn_forward, temporal_softmax_loss

N, D, W, H, T = 10, 20, 30, 40, 13
WORD_TO_IDX = {"<NULL>": 0, "cat": 2, "dog": 3}
V = len(WORD_TO_IDX)
GOLDEN = {"rnn": 9.83235591003, "lstm": 9.82445935443}
FEATURES = {"rnn": (-1.5, 0.3), "lstm": (-0.5, 1.7)}


def _assignment_params(cell):
    gates = 4 if cell == "lstm" else 1
    shapes = {
        "W_proj": (D, H),
        "b_proj": (H,),
        "W_embed": (V, W),
        "Wx": (W, gates * H),
        "Wh": (H, gates * H),
        "b": (gates * H,),
        "W_vocab": (H, V),
        "b_vocab": (V,),
    }
    return {k: torch.from_numpy(np.linspace(-1.4, 1.3, num=int(np.prod(s))).reshape(*s)) for k, s in shapes.items()}


def _inputs(cell):
    features = torch.from_numpy(np.linspace(*FEATURES[cell], num=N * D).reshape(N, D))
    captions = torch.from_numpy((np.arange(N * T) % V).reshape(N, T))
    return features, captions


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_fixed_value_loss_of_the_assignment(cell):
    net = CaptioningRNN(V, D, wordvec_dim=W, hidden_dim=H, cell=cell).double()
    load_cs231n_parameters(net, _assignment_params(cell))
    features, captions = _inputs(cell)
    scores, _ = net(features, captions[:, :-1])
    loss = temporal_softmax_loss(scores, captions[:, 1:], ignore_index=WORD_TO_IDX["<NULL>"])
    assert loss.item() == pytest.approx(GOLDEN[cell], abs=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_fixed_value_loss_with_the_textbook_step_functions(cell):
    # the same check on the notes' own forward pass (ops.recurrent), without any torch layer
    p = _assignment_params(cell)
    features, captions = _inputs(cell)
    h0 = features @ p["W_proj"] + p["b_proj"]
    x = p["W_embed"][captions[:, :-1]]
    hidden = (lstm_forward if cell == "lstm" else rnn_forward)(x, h0, p["Wx"], p["Wh"], p["b"])
    scores = hidden @ p["W_vocab"] + p["b_vocab"]
    assert temporal_softmax_loss(scores, captions[:, 1:]).item() == pytest.approx(GOLDEN[cell], abs=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_step_by_step_decoding_equals_teacher_forcing(cell):
    torch.manual_seed(0)
    net = CaptioningRNN(7, 5, wordvec_dim=6, hidden_dim=8, cell=cell).double()
    features = torch.randn(3, 5, dtype=torch.float64)
    words = torch.randint(0, 7, (3, 4))
    scores, _ = net(features, words)
    state = net.initial_state(features)
    for t in range(4):
        log_probs, state, _ = net.step(words[:, t], state)
        assert torch.allclose(log_probs, scores[:, t].log_softmax(-1), atol=1e-12)
