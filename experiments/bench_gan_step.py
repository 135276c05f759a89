"""What does Lightning's manual optimisation cost a GAN? Images per second of one D+G training step
(one discriminator step, then one generator step, per batch of 128) of cs231n's DCGAN: the GANTask
under Lightning with the experiment's callbacks and TensorBoard logging, against a plain PyTorch loop
over the same nets, optimisers, losses, noise and DataLoader, in one run.

    python experiments/bench_gan_step.py [--steps 20] [--repeats 3] [--batch-size 128]

The plain loop does what GANTask does around each step: the generator's forward without gradients
for the discriminator step, and the discriminator's parameters frozen during the generator step (what
Lightning's toggle_optimizer does). Timed over `steps` batches after `warmup`, data loading included in
both, epoch-end work in neither (one epoch holds every timed batch: scikit-learn's digits, repeated,
in MNIST's IDX format); the variants alternate and each reports its median over the repeats. The
primary figure is this process's CPU time (time.process_time): on a machine shared with other jobs
wall time mostly measures the neighbours; wall time is reported beside it.
Writes experiments/results/gan_step.{md,json}.
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
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.data.formats.idx import write_idx
from litvision.data.synth.digits import load_sklearn_digits, place
from litvision.runtime.run import build, build_all

RESULTS = Path(__file__).resolve().parent / "results"
PLAIN, LIGHTNING = "plain PyTorch loop", "litvision GANTask (Lightning, manual optimisation)"


def clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


class BatchClock(L.Callback):
    """Clocks at the start of batch `warmup` and the end of batch `warmup + steps` (batches, not
    Lightning's global_step, which counts both optimisers' steps)."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps, self.start, self.end = warmup, steps, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.fit_loop.total_batch_idx == self.warmup and self.start is None:
            self.start = clocks()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.fit_loop.total_batch_idx + 1 == self.warmup + self.steps and self.end is None:
            self.end = clocks()
            trainer.should_stop = True


def write_data(root: Path, copies: int) -> None:
    images, labels = load_sklearn_digits()
    images = place(images, 28, 4)
    write_idx(root / "train-images-idx3-ubyte", np.tile(images, (copies, 1, 1)))
    write_idx(root / "train-labels-idx1-ubyte", np.tile(labels, copies))
    write_idx(root / "t10k-images-idx3-ubyte", images[:256])
    write_idx(root / "t10k-labels-idx1-ubyte", labels[:256])


def make_config(data_root: Path, out_dir: Path, batch_size: int):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=dcgan_digits",
                f"data.root={data_root}",
                "data.download=false",
                "data.num_workers=0",
                f"data.batch_size={batch_size}",
                "model.classifier=null",  # no validation metrics: nothing outside the step is timed
                "+trainer.limit_val_batches=0",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                "trainer.max_epochs=1",
                "trainer.log_every_n_steps=10",
                "callbacks.gan_samples.every_n_batches=100000",  # grids at the start and end only
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


def lightning_run(cfg, warmup: int, steps: int) -> tuple[float, float]:
    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)
    clock = BatchClock(warmup, steps)
    trainer = build(cfg.trainer, callbacks=build_all(cfg.callbacks) + [clock], logger=build_all(cfg.logger))
    trainer.fit(task, datamodule=datamodule)
    return (clock.end[0] - clock.start[0]) / steps, (clock.end[1] - clock.start[1]) / steps


def plain_run(cfg, warmup: int, steps: int) -> tuple[float, float]:
    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)  # the same nets, losses and optimiser factory
    datamodule.setup("fit")
    g, d, loss = task.generator, task.discriminator, task.loss
    opt_d = task.optimizer_factory(d.parameters())
    opt_g = task.optimizer_factory(g.parameters())
    g.train(), d.train()
    step, start = 0, None
    for batch_idx, (images, _) in enumerate(datamodule.train_dataloader()):
        if batch_idx == warmup:
            start = clocks()
        real = task.pixels(images)
        rng = torch.Generator().manual_seed(step)
        with torch.no_grad():
            fake = g(torch.rand(len(real), g.noise_dim, generator=rng) * 2 - 1)
        d_loss = loss.discriminator(d(real), d(fake))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        step += 1
        d.requires_grad_(False)
        rng = torch.Generator().manual_seed(step)
        g_loss = loss.generator(d(g(torch.rand(len(real), g.noise_dim, generator=rng) * 2 - 1)))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d.requires_grad_(True)
        step += 1
        if batch_idx + 1 == warmup + steps:
            end = clocks()
            return (end[0] - start[0]) / steps, (end[1] - start[1]) / steps
    raise RuntimeError("the data set has fewer batches than warmup + steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gan_step.md and .json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_gan_"))
    copies = -(-(args.warmup + args.steps + 1) * args.batch_size // 1797)
    write_data(tmp / "digits", copies)
    times: dict[str, list[tuple[float, float]]] = {PLAIN: [], LIGHTNING: []}
    for r in range(args.repeats):
        cfg = make_config(tmp / "digits", tmp / f"run{r}", args.batch_size)
        order = [(PLAIN, plain_run), (LIGHTNING, lightning_run)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            times[name].append(fn(cfg, args.warmup, args.steps))
            print(f"repeat {r}: {name}: {times[name][-1][0]:.3f} CPU s/step", flush=True)
    plain_cpu = statistics.median(t[0] for t in times[PLAIN])
    plain_wall = statistics.median(t[1] for t in times[PLAIN])
    rows = []
    for name, values in times.items():
        cpu, wall = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        rows.append(
            {
                "variant": name,
                "images_per_cpu_s": round(args.batch_size / cpu, 1),
                "cpu_s_per_step": round(cpu, 4),
                "cpu_runs_s": [round(v[0], 4) for v in values],
                "overhead_pct": round(100 * (cpu / plain_cpu - 1), 2),
                "images_per_wall_s": round(args.batch_size / wall, 1),
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
        f"cs231n DCGAN (D 1,102,721 / G 6,580,801 parameters at noise dimension 4; here 96), BCE, Adam, batch "
        f"{args.batch_size} of 28x28 digits; one D+G step per batch; {args.steps} timed batches after "
        f"{args.warmup} warm-up, median of {args.repeats} alternating runs"
    )
    lines = [
        "# GAN training step: litvision/Lightning manual optimisation vs a plain PyTorch loop",
        "",
        setting,
        "",
        f"Machine: {env}, load average {os.getloadavg()[0]:.1f} at the end (2 CPU cores shared with other jobs)",
        "",
        "| variant | images / CPU s | CPU s/step (median) | CPU runs (s) | overhead vs plain | images / wall s | wall overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['images_per_cpu_s']} | {r['cpu_s_per_step']} | {r['cpu_runs_s']} "
        f"| {r['overhead_pct']:+.2f}% | {r['images_per_wall_s']} | {r['wall_overhead_pct']:+.2f}% |"
        for r in rows
    ]
    overhead = rows[1]["overhead_pct"]
    lines += [
        "",
        f"Target: within 5% per step. Result (CPU time): {overhead:+.2f}% ({'met' if abs(overhead) < 5 else 'NOT met'}).",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gan_step.md").write_text(text + "\n")
    (args.out / "gan_step.json").write_text(json.dumps({"setting": setting, "env": env, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
