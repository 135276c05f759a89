"""Seconds per style-transfer optimisation step, per variant, at 150x225 and 300x450, in one run.

    PYTHONPATH=src python experiments/bench_style_step.py [--steps 3] [--warmup 1] [--repeats 2] [--threads 1]

The computation is the recipe of Dive into Deep Learning, ch. 13.12 (d2l): VGG-19 `features` up to conv5_1 (d2l's content layer 25
and style layers 0, 5, 10, 19, 28, i.e. the ReLU outputs relu4_4 and relu1_1, relu2_1, relu3_1,
relu4_1, and conv5_1), content + style (Gram) + TV loss, Adam lr 0.3 and StepLR(50, 0.8) on the
synthesised image, which starts as the content image. The features have random weights (no VGG
weights offline); the time per step does not depend on the weights' values.

Each variant is a function `(problem, steps) -> (seconds of each step, loss of each step)`; "plain
PyTorch" is the baseline every other variant is compared with, and the losses show that they compute
the same thing. A variant only times its optimisation steps: the
problem (extractor, targets) is built once per size, outside the timing. The variants take turns,
`repeats` times per size, so that load from other processes hits them alike. Prints a table and
writes experiments/results/style_step.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.data.core.images import load_image_tensor
from litvision.nets.feature_extractor import STYLE_TRANSFER_LAYERS, FeatureExtractor
from litvision.ops.style import gram_matrix, style_transfer_loss
from litvision.runtime.run import build, build_all

RESULTS = Path(__file__).parent / "results"
CONTENT, STYLE = "skimage:chelsea", "skimage:gravel"
CONTENT_LAYERS, STYLE_LAYERS = STYLE_TRANSFER_LAYERS["vgg19"].content, STYLE_TRANSFER_LAYERS["vgg19"].style
WEIGHTS = {"content_weight": 1.0, "style_weight": 1e4, "tv_weight": 10.0}  # d2l's effective weights
LR, LR_STEP, LR_GAMMA = 0.3, 50, 0.8


@dataclass
class StyleStepProblem:
    """Everything computed once before the first step."""

    extractor: FeatureExtractor
    size: tuple[int, int]
    content_image: torch.Tensor  # (1, 3, H, W), normalised for the extractor
    content_targets: dict[str, torch.Tensor]
    style_grams: dict[str, torch.Tensor]
    content_names: tuple[str, ...]
    style_names: tuple[str, ...]


def build_problem(extractor: FeatureExtractor, size: tuple[int, int]) -> StyleStepProblem:
    extractor.check_input_size(*size)
    content = extractor.input_normalization(load_image_tensor(CONTENT, size)[None])
    style = extractor.input_normalization(load_image_tensor(STYLE, size)[None])
    content_names, style_names = CONTENT_LAYERS, STYLE_LAYERS
    with torch.no_grad():
        content_feats, style_feats = extractor.forward_normalized(content), extractor.forward_normalized(style)
    return StyleStepProblem(
        extractor=extractor,
        size=size,
        content_image=content,
        content_targets={k: content_feats[k] for k in content_names},
        style_grams={k: gram_matrix(style_feats[k]) for k in style_names},
        content_names=content_names,
        style_names=style_names,
    )


def plain_pytorch(problem: StyleStepProblem, steps: int) -> tuple[list[float], list[float]]:
    """The baseline: a hand-written optimisation loop."""
    image = problem.content_image.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=LR_STEP, gamma=LR_GAMMA)
    times, losses = [], []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        feats = problem.extractor.forward_normalized(image)
        loss = style_transfer_loss(
            image,
            {k: feats[k] for k in problem.content_names},
            problem.content_targets,
            {k: feats[k] for k in problem.style_names},
            problem.style_grams,
            **WEIGHTS,
        )
        loss.total.backward()
        optimizer.step()
        scheduler.step()
        times.append(time.perf_counter() - start)
        losses.append(loss.total.item())  # outside the timing: the Lightning variant's is, too
    return times, losses


class StepClock(L.Callback):
    """Wall time from one step's start to the next one's: everything the Trainer does per step
    (hooks, logging, the scheduler, fetching the batch) is inside."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.losses: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


def lightning_task(problem: StyleStepProblem, steps: int) -> tuple[list[float], list[float]]:
    """The StyleTransferTask under a Trainer, built from the `style_transfer` experiment's config as a
    user runs it (TensorBoard logger written every step, LR monitor, the style-image callback,
    checkpoint callbacks), except the progress bar. The task's extractor is replaced by the problem's
    (same module, same weights) so both variants compute exactly the same thing."""
    height, width = problem.size
    with tempfile.TemporaryDirectory() as out, initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=style_transfer",
                "model.weights=null",
                f"data.content=[{CONTENT}]",
                f"data.style={STYLE}",
                "data.style_border=0",
                # one step more than timed: the last one's end runs into the epoch-end work (checkpoints)
                f"data.scales=[{{size:[{height},{width}],steps:{steps + 1}}}]",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
            ],
        )
        with open_dict(cfg):
            cfg.paths.output_dir = out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # random weights: fine for timing
            task = build(cfg.model)
        task.extractor = problem.extractor
        clock = StepClock()
        trainer = build(cfg.trainer, callbacks=build_all(cfg.callbacks) + [clock], logger=build_all(cfg.logger))
        trainer.fit(task, datamodule=build(cfg.data))
    return [b - a for a, b in zip(clock.starts, clock.starts[1:])], clock.losses[:steps]


# Variants in table order; the first is the baseline.
VARIANTS: dict[str, Callable[[StyleStepProblem, int], tuple[list[float], list[float]]]] = {
    "plain PyTorch": plain_pytorch,
    "Lightning task": lightning_task,
}


def run(sizes: list[tuple[int, int, int]], warmup: int, repeats: int) -> list[dict]:
    """`sizes`: (height, width, timed steps per turn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random weights: fine for timing
        extractor = FeatureExtractor("vgg19", CONTENT_LAYERS + STYLE_LAYERS, weights=None)
    rows = []
    for height, width, steps in sizes:
        size = (height, width)
        problem = build_problem(extractor, size)
        times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        last_loss: dict[str, float] = {}
        for _ in range(repeats):
            for variant, run_variant in VARIANTS.items():
                step_times, losses = run_variant(problem, warmup + steps)
                times[variant] += step_times[warmup:]
                last_loss[variant] = losses[-1]
        baseline = None
        for variant, measured in times.items():
            median = statistics.median(measured)
            baseline = baseline or median
            rows.append(
                {
                    "size": f"{size[0]}x{size[1]}",
                    "variant": variant,
                    "steps": len(measured),
                    "median_s": median,
                    "mean_s": statistics.fmean(measured),
                    "min_s": min(measured),
                    "vs_baseline": median / baseline,
                    "minus_baseline_s": median - baseline,
                    "loss_after_last_step": last_loss[variant],
                }
            )
            print(f"{rows[-1]['size']:>8} {variant:<16} {median:8.3f} s/step", flush=True)
    return rows


def to_markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Style transfer: seconds per optimisation step",
        "",
        f"`experiments/bench_style_step.py`; per variant and size {meta['repeats']} turns (the variants "
        f"taking turns) of {meta['steps']} timed steps (or the number given with the size) after "
        f"{meta['warmup']} warm-up; the steps column is their total. "
        f"CPU ({meta['machine']}, {meta['cpus']} cores, load average {meta['load_average']} at start), "
        f"torch threads: {meta['threads']}, torch {meta['torch']}, lightning {meta['lightning']}. VGG-19 "
        "features up to conv5_1 with random weights (the time does not depend on the values). The "
        "Lightning task runs the `style_transfer` experiment's config (TensorBoard logging every step, "
        "LR monitor, image callback, checkpoints; no progress bar) and is timed from one step's start to "
        "the next. The tiny size is there to show the framework's own cost per step, which the large "
        "sizes drown. Shared machine, so expect noise.",
        "",
        "| size (HxW) | variant | steps | median s/step | mean s/step | min s/step | vs baseline | median - baseline | loss after the last step |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['variant']} | {r['steps']} | {r['median_s']:.3f} | {r['mean_s']:.3f} "
            f"| {r['min_s']:.3f} | {r['vs_baseline']:.2f}x | {1000 * r['minus_baseline_s']:+.1f} ms "
            f"| {r['loss_after_last_step']:.6g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["150x225", "300x450", "32x48:30"],
        help="HxW[:steps], e.g. 300x450 (--steps timed steps per turn) or 32x48:30",
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps per turn (sizes without :steps)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=2, help="turns per variant and size")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the CPUs are shared)")
    parser.add_argument("--out", type=Path, default=RESULTS / "style_step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = []
    for spec in args.sizes:
        shape, _, steps = spec.lower().partition(":")
        height, width = (int(v) for v in shape.split("x"))
        sizes.append((height, width, int(steps) if steps else args.steps))

    meta = {
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "device": "cpu",
        "features": "vgg19 features[:29], random weights",
        "content": CONTENT,
        "style": STYLE,
    }
    rows = run(sizes, args.warmup, args.repeats)
    markdown = to_markdown(rows, meta)
    print("\n" + markdown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(markdown)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
