"""What does `callbacks/ema=default` (litvision.callbacks.ema: Lightning's EMAWeightAveraging) cost per training
step? The same Lightning run of bench_step_overhead.py (CIFAR-style ResNet-18, the experiment's callbacks and
TensorBoard logging) with and without the EMA callback, alternating in one process.

    python experiments/bench_ema_step.py [--steps 40] [--repeats 3] [--batch-size 32] [--threads 1]

CPU time per step (time.process_time) is the primary figure, wall time beside it; each variant's median over
the repeats. Writes experiments/results/ema_step.{md,json}.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step_overhead import lightning_run, make_config, step_benchmark_setup  # noqa: E402

VARIANTS = {"without EMA": (), "callbacks/ema=default": ("callbacks/ema=default",)}


def main() -> None:
    args, tmp = step_benchmark_setup(__doc__, "ema_step", "bench_ema_")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for r in range(args.repeats):
        names = list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]
        for i, name in enumerate(names):
            cfg = make_config(tmp, tmp / f"run{r}_{i}", args.batch_size, args.warmup + args.steps, VARIANTS[name])
            times[name].append(lightning_run(cfg, args.warmup, args.steps))
    base = statistics.median(t[0] for t in times["without EMA"])
    rows = [
        {
            "variant": name,
            "cpu_ms_per_step": round(1000 * statistics.median(v[0] for v in values), 2),
            "cpu_runs_ms": [round(1000 * v[0], 2) for v in values],
            "wall_ms_per_step": round(1000 * statistics.median(v[1] for v in values), 2),
            "cost_pct": round(100 * (statistics.median(v[0] for v in values) / base - 1), 2),
        }
        for name, values in times.items()
    ]
    parameters = sum(p.numel() for p in make_model_parameters(tmp, args))
    env = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    setting = (
        f"CIFAR-style ResNet-18 ({parameters / 1e6:.1f} M parameters), Adam, batch {args.batch_size} of 32x32 images, "
        f"{args.steps} timed steps after {args.warmup} warm-up, median of {args.repeats} alternating runs, decay 0.999"
    )
    lines = [
        "# Cost of the EMA callback per training step",
        "",
        setting,
        "",
        f"Machine: {env} (lightning {L.__version__})",
        "",
    ]
    lines += [
        "| variant | CPU ms/step (median) | CPU runs (ms) | cost vs without | wall ms/step |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['cpu_ms_per_step']} | {r['cpu_runs_ms']} | {r['cost_pct']:+.2f}% | {r['wall_ms_per_step']} |"
        for r in rows
    ]
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ema_step.md").write_text(text + "\n")
    (args.out / "ema_step.json").write_text(json.dumps({"setting": setting, "env": env, "rows": rows}, indent=2) + "\n")


def make_model_parameters(tmp: Path, args) -> list:
    from litvision.runtime.run import build

    return list(build(make_config(tmp, tmp / "count", args.batch_size, 1).model).parameters())


if __name__ == "__main__":
    main()
