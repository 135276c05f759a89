"""The image-captioning RNN of Stanford cs231n assignment 3 (`CaptioningRNN`), on torch's fused layers.

features (N, D) --affine--> h0 (N, H); captions_in (N, T) --embedding--> (N, T, W) --torch.nn.RNN (tanh)
or torch.nn.LSTM, from h0 (and a zero cell)--> (N, T, H) --temporal affine--> scores (N, T, V).

Decoding (greedy or beam search, litvision.ops.decoding) drives the same layers one word at a time
through `initial_state` / `step`. Parameters start as the assignment initialises them (weights
randn / sqrt(fan-in), the embedding randn / 100, biases zero). `load_cs231n_parameters` copies the
assignment's parameter layout in (transposes, the LSTM's gate reorder), which the golden test uses.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.ops.recurrent import lstm_weights_to_torch, rnn_weights_to_torch

CELLS = ("rnn", "lstm")


class CaptioningRNN(nn.Module):
    """vocab_size: V (with the special tokens); feature_dim: D of the image features.
    The net returns log-probabilities in `step` and raw scores in `forward`."""

    def __init__(
        self,
        vocab_size: int,
        feature_dim: int,
        wordvec_dim: int = 256,
        hidden_dim: int = 512,
        cell: str = "rnn",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.net.cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.cell = cell
        self.vocab_size, self.feature_dim = vocab_size, feature_dim
        self.wordvec_dim, self.hidden_dim = wordvec_dim, hidden_dim
        self.proj = nn.Linear(feature_dim, hidden_dim)
        self.embed = nn.Embedding(vocab_size, wordvec_dim)
        layer = nn.RNN if cell == "rnn" else nn.LSTM
        self.rnn = layer(wordvec_dim, hidden_dim, batch_first=True)
        self.vocab = nn.Linear(hidden_dim, vocab_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The assignment's initialisation (torch's defaults differ: uniform weights, N(0, 1) embedding)."""
        with torch.no_grad():
            self.embed.weight.normal_().div_(100)
            for layer, fan_in in ((self.proj, self.feature_dim), (self.vocab, self.hidden_dim)):
                layer.weight.normal_().div_(math.sqrt(fan_in))
                layer.bias.zero_()
            self.rnn.weight_ih_l0.normal_().div_(math.sqrt(self.wordvec_dim))
            self.rnn.weight_hh_l0.normal_().div_(math.sqrt(self.hidden_dim))
            self.rnn.bias_ih_l0.zero_()
            self.rnn.bias_hh_l0.zero_()

    def initial_state(self, features: Tensor) -> dict[str, Tensor]:
        """h0 = features W_proj + b_proj (and c0 = 0 for the LSTM); every entry is (N, H)."""
        h0 = self.proj(features)
        return {"h": h0, "c": torch.zeros_like(h0)} if self.cell == "lstm" else {"h": h0}

    def _run(self, words: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        x = self.embed(words)
        if self.cell == "lstm":
            out, (h, c) = self.rnn(x, (state["h"][None].contiguous(), state["c"][None].contiguous()))
            return out, {"h": h[0], "c": c[0]}
        out, h = self.rnn(x, state["h"][None].contiguous())
        return out, {"h": h[0]}

    def forward(self, features: Tensor, captions_in: Tensor) -> tuple[Tensor, None]:
        """Teacher forcing: (N, D) features and (N, T) input words -> ((N, T, V) scores, no attention)."""
        hidden, _ = self._run(captions_in, self.initial_state(features))
        return self.vocab(hidden), None

    def step(self, words: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """One decoding step: (N,) previous words -> ((N, V) log-probabilities, new state, extras)."""
        hidden, state = self._run(words[:, None], state)
        return torch.log_softmax(self.vocab(hidden[:, 0]), dim=-1), state, {}


def load_cs231n_parameters(net: CaptioningRNN, params: dict[str, Tensor]) -> None:
    """Copy the assignment's parameters (W_proj (D, H), b_proj, W_embed (V, W), Wx (W, H) or (W, 4H),
    Wh, b, W_vocab (H, V), b_vocab; LSTM gates i, f, o, g) into `net`."""
    convert = lstm_weights_to_torch if net.cell == "lstm" else rnn_weights_to_torch
    recurrent = convert(params["Wx"], params["Wh"], params["b"])
    state = {
        "proj.weight": params["W_proj"].T,
        "proj.bias": params["b_proj"],
        "embed.weight": params["W_embed"],
        "vocab.weight": params["W_vocab"].T,
        "vocab.bias": params["b_vocab"],
        **{f"rnn.{name}_l0": value for name, value in recurrent.items()},
    }
    net.load_state_dict({k: v.contiguous() for k, v in state.items()}, strict=True)
