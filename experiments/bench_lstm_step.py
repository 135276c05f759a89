"""Training throughput of the LSTM captioner: torch.nn.LSTM against a per-time-step loop over the
textbook `lstm_step` (what Stanford cs231n assignment 3 does), in one run.

    PYTHONPATH=src python experiments/bench_lstm_step.py [--steps 5] [--warmup 2] [--repeats 3] [--threads 2] [--device cpu]

Both variants are the same captioning model with the same weights: features (512, the PCA size) ->
h0, word embedding (256), LSTM (hidden 512) over T = 17 input words, temporal affine to cs231n's
1004-word vocabulary, temporal softmax loss, backward and an Adam step, batch 128. "torch.nn.LSTM" is
litvision's CaptioningRNN; "lstm_step loop" keeps the assignment's parameter layout (Wx (W, 4H),
Wh (H, 4H), b, gates i, f, o, g) and runs `litvision.ops.recurrent.lstm_forward`, one `lstm_step`
per time step, under autograd. The losses of the first step are printed to show they compute the
same thing. The variants take turns (`repeats` times) so that load from other processes hits them
alike. Prints a table and writes experiments/results/lstm_step.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from litvision.nets.captioning_rnn import CaptioningRNN
from litvision.ops.recurrent import lstm_forward, temporal_softmax_loss

RESULTS = Path(__file__).parent / "results"
BATCH, T, FEATURES, WORDVEC, HIDDEN, VOCAB = 128, 17, 512, 256, 512, 1004


class LoopCaptioner(nn.Module):
    """The assignment's parameter layout, run with the textbook step function."""

    def __init__(self, reference: CaptioningRNN) -> None:
        super().__init__()
        h = reference.hidden_dim

        def ifgo_to_ifog(w: torch.Tensor) -> torch.Tensor:
            i, f, g, o = w.chunk(4, dim=0)
            return torch.cat([i, f, o, g], dim=0)

        rnn = reference.rnn
        self.W_proj = nn.Parameter(reference.proj.weight.detach().T.clone())
        self.b_proj = nn.Parameter(reference.proj.bias.detach().clone())
        self.W_embed = nn.Parameter(reference.embed.weight.detach().clone())
        self.Wx = nn.Parameter(ifgo_to_ifog(rnn.weight_ih_l0.detach()).T.contiguous())
        self.Wh = nn.Parameter(ifgo_to_ifog(rnn.weight_hh_l0.detach()).T.contiguous())
        self.b = nn.Parameter(ifgo_to_ifog((rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()).clone())
        self.W_vocab = nn.Parameter(reference.vocab.weight.detach().T.clone())
        self.b_vocab = nn.Parameter(reference.vocab.bias.detach().clone())
        assert self.Wh.shape == (h, 4 * h)

    def forward(self, features: torch.Tensor, captions_in: torch.Tensor) -> tuple[torch.Tensor, None]:
        h0 = features @ self.W_proj + self.b_proj
        hidden = lstm_forward(self.W_embed[captions_in], h0, self.Wx, self.Wh, self.b)
        return hidden @ self.W_vocab + self.b_vocab, None


def train_steps(model: nn.Module, features, captions, steps: int) -> tuple[list[float], float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    times, first_loss = [], float("nan")
    for i in range(steps):
        start = time.perf_counter()
        scores, _ = model(features, captions[:, :-1])
        loss = temporal_softmax_loss(scores, captions[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if features.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        if i == 0:
            first_loss = loss.item()
    return times, first_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per turn")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per turn")
    parser.add_argument("--repeats", type=int, default=3, help="turns per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(RESULTS / "lstm_step"), help="results path without suffix")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    features = torch.randn(BATCH, FEATURES, device=device)
    captions = torch.randint(4, VOCAB, (BATCH, T + 1), device=device)
    captions[:, 0] = 1
    reference = CaptioningRNN(VOCAB, FEATURES, WORDVEC, HIDDEN, cell="lstm")
    variants = {"torch.nn.LSTM": lambda: _copy(reference), "lstm_step loop": lambda: LoopCaptioner(reference)}
    load = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in variants}
    losses: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, make in variants.items():
            model = make().to(device)
            step_times, first = train_steps(model, features, captions, args.warmup + args.steps)
            times[name] += step_times[args.warmup :]
            losses[name] = first
    base = statistics.median(times["torch.nn.LSTM"])
    rows = []
    for name, ts in times.items():
        median = statistics.median(ts)
        rows.append(
            {
                "variant": name,
                "steps": len(ts),
                "median_s_per_step": median,
                "captions_per_s": BATCH / median,
                "ratio_vs_nn_lstm": median / base,
                "first_loss": losses[name],
            }
        )
    where = f"{device.type.upper()} ({platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start)"
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}"
    header = (
        f"# LSTM captioner training throughput: torch.nn.LSTM vs a loop over lstm_step\n\n"
        f"`experiments/bench_lstm_step.py --device {args.device} --threads {args.threads}`; batch {BATCH}, T = {T}, "
        f"hidden {HIDDEN}, word vectors {WORDVEC}, features {FEATURES}, vocabulary {VOCAB}; one training step = "
        f"forward, temporal softmax loss, backward, Adam. {args.repeats} turns per variant (taking turns) of "
        f"{args.steps} timed steps after {args.warmup} warm-up. {where}, torch threads {args.threads}, torch "
        f"{torch.__version__}. Same weights in both: the first-step losses agree.\n\n"
    )
    table = [
        "| variant | steps | median s/step | captions/s | time vs torch.nn.LSTM | first-step loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    table += [
        f"| {r['variant']} | {r['steps']} | {r['median_s_per_step']:.4f} | {r['captions_per_s']:.0f} | "
        f"{r['ratio_vs_nn_lstm']:.2f}x | {r['first_loss']:.6f} |"
        for r in rows
    ]
    text = header + "\n".join(table) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"setting": header.strip(), "rows": rows}, indent=2) + "\n")


def _copy(reference: CaptioningRNN) -> CaptioningRNN:
    model = CaptioningRNN(VOCAB, FEATURES, WORDVEC, HIDDEN, cell="lstm")
    model.load_state_dict(reference.state_dict())
    return model


if __name__ == "__main__":
    main()
