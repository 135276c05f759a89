"""The soft-attention captioner: shapes, attention as a distribution, step-wise decoding = teacher forcing."""

import pytest
import torch

from litvision.nets.show_attend_tell import ShowAttendTell
from litvision.ops.attention import doubly_stochastic_penalty


def test_teacher_forcing_and_steps_agree_and_attention_is_a_distribution():
    torch.manual_seed(0)
    net = ShowAttendTell(11, 6, wordvec_dim=5, hidden_dim=7, attention_dim=4).double().eval()
    grid = torch.randn(3, 6, 2, 3, dtype=torch.float64)
    words = torch.randint(0, 11, (3, 4))
    scores, attention = net(grid, words)
    assert scores.shape == (3, 4, 11) and attention.shape == (3, 4, 6)
    assert torch.allclose(attention.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    state = net.initial_state(grid)
    for t in range(4):
        log_probs, state, extras = net.step(words[:, t], state)
        assert torch.allclose(log_probs, scores[:, t].log_softmax(-1), atol=1e-12)
        assert torch.allclose(extras["attention"], attention[:, t], atol=1e-12)


def test_attention_depends_on_where_the_features_are():
    torch.manual_seed(1)
    net = ShowAttendTell(5, 4, wordvec_dim=3, hidden_dim=4, attention_dim=3).eval()
    grid = torch.randn(1, 4, 2, 2)
    _, attention = net(grid, torch.tensor([[1, 3]]))
    _, flipped = net(grid.flip(-1), torch.tensor([[1, 3]]))
    # moving the features moves the attention with them
    assert torch.allclose(flipped.view(1, 2, 2, 2), attention.view(1, 2, 2, 2).flip(-1), atol=1e-6)


def test_doubly_stochastic_penalty():
    uniform = torch.full((2, 4, 4), 0.25)  # 4 steps over 4 positions: each position gets 1 in total
    assert doubly_stochastic_penalty(uniform, torch.ones(2, 4)).item() == pytest.approx(0.0)
    # the last two steps masked out: each position gets 0.5, penalty 4 * 0.25 per caption
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.float32)
    assert doubly_stochastic_penalty(uniform, mask).item() == pytest.approx(1.0)
