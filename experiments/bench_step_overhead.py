"""What does the framework cost per training step? The classification task under Lightning (the
experiment's own config: metrics, logging to TensorBoard, LR monitor, checkpoint callbacks) against a
plain PyTorch loop over the same net, optimiser, batch and DataLoader, in one run.

    python experiments/bench_step_overhead.py [--steps 40] [--repeats 3] [--batch-size 32]

Time per step is measured over `steps` training steps after `warmup` steps, data loading included in
both, epoch-end work (validation, checkpoint files) in neither; the variants alternate and each
reports its median over the repeats. The primary figure is this process's CPU time per step
(time.process_time): on a machine shared with other jobs wall time mostly measures the neighbours;
wall time is reported beside it. Writes experiments/results/step_overhead.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.data.synth.cifar10 import write_cifar10
from litvision.runtime.run import build, build_all

RESULTS = Path(__file__).resolve().parent / "results"


class StepClock(L.Callback):
    """Wall time of training steps warmup..warmup+steps: the Lightning loop, its hooks, metrics and
    logging included; epoch-end work (validation, checkpoint files) excluded, as in the plain loop."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps, self.start, self.end = warmup, steps, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.start is None:
            self.start = clocks()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.warmup + self.steps and self.end is None:
            self.end = clocks()


def clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def per_step(start: tuple[float, float], end: tuple[float, float], steps: int) -> tuple[float, float]:
    return (end[0] - start[0]) / steps, (end[1] - start[1]) / steps


def make_config(data_dir: Path, out_dir: Path, batch_size: int, total_steps: int, extra: tuple[str, ...] = ()):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=cifar10_aug",
                f"paths.data_dir={data_dir}",
                "data.verify_checksums=false",
                "data.download=false",
                "data.num_workers=0",
                f"data.batch_size={batch_size}",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                f"+trainer.max_steps={total_steps}",
                "trainer.max_epochs=1000",
                "trainer.log_every_n_steps=10",
                *extra,
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


def lightning_run(cfg, warmup: int, steps: int) -> tuple[float, float]:
    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)
    clock = StepClock(warmup, steps)
    trainer = build(cfg.trainer, callbacks=build_all(cfg.callbacks) + [clock], logger=build_all(cfg.logger))
    trainer.fit(task, datamodule=datamodule)
    return per_step(clock.start, clock.end, steps)


def plain_run(cfg, warmup: int, steps: int) -> tuple[float, float]:
    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)  # the same net and optimiser factory
    datamodule.setup("fit")
    net, optimizer = task.net, task.optimizer_factory(task.net.parameters())
    net.train()
    done, start = 0, None
    while done < warmup + steps:
        for images, labels in datamodule.train_dataloader():
            if done == warmup:
                start = clocks()
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(images), labels)
            loss.backward()
            optimizer.step()
            done += 1
            if done == warmup + steps:
                break
    return per_step(start, clocks(), steps)


def step_benchmark_setup(doc: str, results: str, prefix: str) -> tuple[argparse.Namespace, Path]:
    """The command line of a per-step benchmark (this one, bench_ema_step.py) and its data: (args, a temporary
    folder holding a generated CIFAR-10 large enough that no epoch ends inside the timed steps)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"folder for {results}.md and .json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    write_cifar10(tmp / "cifar10", train_per_class=200, test_per_class=4)
    return args, tmp


def main() -> None:
    args, tmp = step_benchmark_setup(__doc__, "step_overhead", "bench_step_")
    times: dict[str, list[tuple[float, float]]] = {"plain PyTorch loop": [], "litvision (Lightning)": []}
    for r in range(args.repeats):
        cfg = make_config(tmp, tmp / f"run{r}", args.batch_size, args.warmup + args.steps)
        order = [("plain PyTorch loop", plain_run), ("litvision (Lightning)", lightning_run)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            times[name].append(fn(cfg, args.warmup, args.steps))
    plain_cpu = statistics.median(t[0] for t in times["plain PyTorch loop"])
    plain_wall = statistics.median(t[1] for t in times["plain PyTorch loop"])
    rows = []
    for name, values in times.items():
        cpu, wall = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        rows.append(
            {
                "variant": name,
                "cpu_ms_per_step": round(1000 * cpu, 2),
                "cpu_runs_ms": [round(1000 * v[0], 2) for v in values],
                "overhead_pct": round(100 * (cpu / plain_cpu - 1), 2),
                "wall_ms_per_step": round(1000 * wall, 2),
                "wall_overhead_pct": round(100 * (wall / plain_wall - 1), 2),
            }
        )
    env = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": sys.version.split()[0],
    }
    setting = (
        f"CIFAR-style ResNet-18, Adam, batch {args.batch_size} of 32x32 images with random flip, "
        f"{args.steps} timed steps after {args.warmup} warm-up, median of {args.repeats} alternating runs"
    )
    lines = [
        "# Training-step overhead: litvision/Lightning vs a plain PyTorch loop",
        "",
        setting,
        "",
        f"Machine: {env}, load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| variant | CPU ms/step (median) | CPU runs (ms) | overhead vs plain | wall ms/step | wall overhead |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['cpu_ms_per_step']} | {r['cpu_runs_ms']} | {r['overhead_pct']:+.2f}% "
        f"| {r['wall_ms_per_step']} | {r['wall_overhead_pct']:+.2f}% |"
        for r in rows
    ]
    overhead = rows[1]["overhead_pct"]
    lines += [
        "",
        f"Target: under 5% per step. Result (CPU time): {overhead:+.2f}% ({'met' if overhead < 5 else 'NOT met'}).",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_overhead.md").write_text(text + "\n")
    (args.out / "step_overhead.json").write_text(
        json.dumps({"setting": setting, "env": env, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
