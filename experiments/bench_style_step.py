"""Seconds per style-transfer optimisation step, per variant, at 150x225 and 300x450, in one run.

    PYTHONPATH=src python experiments/bench_style_step.py [--steps 3] [--warmup 1] [--threads 1]

The computation is the seeds' recipe: VGG-19 `features` up to conv5_1 (content layer 25, style
layers 0, 5, 10, 19, 28), content + style (Gram) + TV loss, Adam lr 0.3 and StepLR(50, 0.8) on the
synthesised image, which starts as the content image. The features have random weights (no VGG
weights offline); the time per step does not depend on the weights' values.

Each variant is a function `(problem, steps) -> seconds of each step`; "plain PyTorch" is the
baseline every other variant is compared with. A variant only times its optimisation steps: the
problem (extractor, targets) is built once per size, outside the timing. Prints a table and writes
experiments/results/style_step.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from litvision.data.images import load_image_tensor
from litvision.nets.feature_extractor import FeatureExtractor, layer_names
from litvision.ops.style import gram_matrix, style_transfer_loss

RESULTS = Path(__file__).parent / "results"
CONTENT_LAYERS, STYLE_LAYERS = (25,), (0, 5, 10, 19, 28)
WEIGHTS = {"content_weight": 1.0, "style_weight": 1e4, "tv_weight": 10.0}  # the seeds' effective weights
LR, LR_STEP, LR_GAMMA = 0.3, 50, 0.8


@dataclass
class StyleStepProblem:
    """Everything computed once before the first step."""

    extractor: FeatureExtractor
    content_image: torch.Tensor  # (1, 3, H, W), normalised for the extractor
    content_targets: dict[str, torch.Tensor]
    style_grams: dict[str, torch.Tensor]
    content_names: tuple[str, ...]
    style_names: tuple[str, ...]


def build_problem(extractor: FeatureExtractor, size: tuple[int, int]) -> StyleStepProblem:
    extractor.check_input_size(*size)
    content = extractor.normalize(load_image_tensor("skimage:chelsea", size)[None])
    style = extractor.normalize(load_image_tensor("skimage:gravel", size)[None])
    names = layer_names("vgg19")
    content_names, style_names = tuple(names[i] for i in CONTENT_LAYERS), tuple(names[i] for i in STYLE_LAYERS)
    with torch.no_grad():
        content_feats, style_feats = extractor(content), extractor(style)
    return StyleStepProblem(
        extractor=extractor,
        content_image=content,
        content_targets={k: content_feats[k] for k in content_names},
        style_grams={k: gram_matrix(style_feats[k]) for k in style_names},
        content_names=content_names,
        style_names=style_names,
    )


def plain_pytorch(problem: StyleStepProblem, steps: int) -> list[float]:
    """The baseline: a hand-written optimisation loop."""
    image = problem.content_image.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=LR_STEP, gamma=LR_GAMMA)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        feats = problem.extractor(image)
        loss = style_transfer_loss(
            image,
            {k: feats[k] for k in problem.content_names}, problem.content_targets,
            {k: feats[k] for k in problem.style_names}, problem.style_grams,
            **WEIGHTS,
        )
        loss.total.backward()
        optimizer.step()
        scheduler.step()
        times.append(time.perf_counter() - start)
    return times


# Variants in table order; the first is the baseline. (The Lightning module goes here.)
VARIANTS: dict[str, Callable[[StyleStepProblem, int], list[float]]] = {
    "plain PyTorch": plain_pytorch,
}


def run(sizes: list[tuple[int, int]], steps: int, warmup: int) -> list[dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random weights: fine for timing
        extractor = FeatureExtractor("vgg19", CONTENT_LAYERS + STYLE_LAYERS, weights=None)
    rows = []
    for size in sizes:
        problem = build_problem(extractor, size)
        baseline = None
        for variant, step_times in VARIANTS.items():
            times = step_times(problem, warmup + steps)[warmup:]
            median = statistics.median(times)
            baseline = baseline or median
            rows.append({
                "size": f"{size[0]}x{size[1]}", "variant": variant, "steps": len(times),
                "median_s": median, "mean_s": statistics.fmean(times), "min_s": min(times),
                "vs_baseline": median / baseline,
            })
            print(f"{rows[-1]['size']:>8} {variant:<16} {median:8.3f} s/step", flush=True)
    return rows


def to_markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Style transfer: seconds per optimisation step",
        "",
        f"`experiments/bench_style_step.py`; {meta['steps']} timed steps after {meta['warmup']} warm-up, "
        f"CPU ({meta['machine']}, {meta['cpus']} cores, load average {meta['load_average']} at start), "
        f"torch threads: {meta['threads']}, torch {meta['torch']}. VGG-19 features up to conv5_1 with "
        "random weights (the time does not depend on the values); shared machine, so expect noise.",
        "",
        "| size (HxW) | variant | steps | median s/step | mean s/step | min s/step | vs baseline |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['variant']} | {r['steps']} | {r['median_s']:.3f} | {r['mean_s']:.3f} "
            f"| {r['min_s']:.3f} | {r['vs_baseline']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["150x225", "300x450"], help="HxW, e.g. 300x450")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant and size")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the CPUs are shared)")
    parser.add_argument("--out", type=Path, default=RESULTS / "style_step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]

    meta = {
        "steps": args.steps, "warmup": args.warmup, "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average": " ".join(f"{v:.1f}" for v in os.getloadavg()), "torch": torch.__version__,
        "device": "cpu", "features": "vgg19 features[:29], random weights",
    }
    rows = run(sizes, args.steps, args.warmup)
    markdown = to_markdown(rows, meta)
    print("\n" + markdown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(markdown)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
