"""Greedy and beam search against exhaustive search on small Markov 'language models'."""

import itertools

import pytest
import torch

from litvision.nets.captioning_rnn import CaptioningRNN
from litvision.ops.decoding import beam_search, greedy_decode

NULL, START, END = 0, 1, 2


def markov_step(tables):
    """A step function whose log-probabilities depend on the image (row of `tables`) and the previous word."""

    def step(words, state):
        image = state["image"]
        return tables[image, words], state, {"seen": torch.nn.functional.one_hot(words, tables.shape[-1]).float()}

    return step


def exhaustive_best(table, max_length, vocab):
    """The best sequence of at most max_length tokens (ending at <END> or cut at max_length)."""
    words = [w for w in range(vocab) if w not in (NULL, START)]
    best, best_seq = float("-inf"), None
    for length in range(1, max_length + 1):
        for seq in itertools.product(words, repeat=length):
            if END in seq[:-1] or (length < max_length and seq[-1] != END):
                continue
            prev, score = START, 0.0
            for w in seq:
                score += table[prev, w].item()
                prev = w
            if score > best:
                best, best_seq = score, list(seq)
    return best, best_seq


def _tables(n, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, vocab, vocab, generator=g).mul(2).log_softmax(-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_finds_the_exhaustive_optimum(seed):
    vocab, max_length, n = 5, 4, 3
    tables = _tables(n, vocab, seed)
    state = {"image": torch.arange(n)}
    result = beam_search(
        markov_step(tables), state, START, END, NULL, beam_size=(vocab - 2) ** max_length, max_length=max_length
    )
    for i in range(n):
        score, seq = exhaustive_best(tables[i], max_length, vocab)
        got = result.tokens[i].tolist()
        assert got[: len(seq)] == seq and all(t == NULL for t in got[len(seq) :])
        assert result.log_prob[i].item() == pytest.approx(score, abs=1e-5)


def test_beam_of_one_is_greedy_and_a_wider_beam_is_never_worse():
    tables = _tables(4, 6, 3)
    state = {"image": torch.arange(4)}
    greedy = greedy_decode(markov_step(tables), state, START, END, NULL, max_length=6)
    beam1 = beam_search(markov_step(tables), state, START, END, NULL, beam_size=1, max_length=6)
    beam4 = beam_search(markov_step(tables), state, START, END, NULL, beam_size=4, max_length=6)
    assert torch.equal(greedy.tokens, beam1.tokens)
    assert torch.allclose(greedy.log_prob, beam1.log_prob)
    assert (beam4.log_prob >= beam1.log_prob - 1e-6).all()
    # per-step extras follow the chosen beam: here the one-hot of the previous word
    prev = torch.cat([torch.full((4, 1), START), beam4.tokens[:, :-1]], dim=1)
    alive = torch.cat(
        [torch.ones(4, 1, dtype=torch.bool), (beam4.tokens[:, :-1] != END) & (beam4.tokens[:, :-1] != NULL)], dim=1
    )
    expect = torch.nn.functional.one_hot(prev, 6).float() * alive[..., None]
    assert torch.equal(beam4.extras["seen"], expect)


def test_decoding_a_captioning_net_stops_at_end_and_pads_with_null():
    torch.manual_seed(0)
    net = CaptioningRNN(9, 4, wordvec_dim=5, hidden_dim=6, cell="lstm").eval()
    features = torch.randn(5, 4)
    for decode in (greedy_decode, beam_search):
        out = decode(net.step, net.initial_state(features), START, END, NULL, max_length=7)
        assert out.tokens.shape == (5, 7)
        for row in out.tokens.tolist():
            assert START not in row
            if END in row:
                assert all(t == NULL for t in row[row.index(END) + 1 :])
            else:
                assert NULL not in row
