"""DDP on two CPU processes (trainer=ddp_cpu, gloo) against one process, on the offline banana detection
set, over several seeds: does splitting each batch over two processes (gradients all-reduced, the
sampler sharded by Lightning's DistributedSampler, BatchNorm statistics per process since SyncBatchNorm
needs GPUs) change what the SSD learns? Same effective batch (32 = 2 x 16), learning rate and epochs.
Runs are interleaved (seed by seed, one mode after the other) so machine load hits both alike. Writes
experiments/results/ddp_vs_single.{md,json}.

    python experiments/ddp_vs_single.py [--seeds 0 1 2] [--epochs 2] [--val 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results"
METRICS = ("test/mAP_50", "test/mAP", "test/class_err", "test/bbox_mae")
MODES = {
    "one process": ["trainer=cpu", "data.batch_size=32"],
    "DDP, 2 processes": ["trainer=ddp_cpu", "data.batch_size=16"],
}


def one_run(mode: str, seed: int, args: argparse.Namespace, data_dir: Path, out: Path) -> dict:
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "experiment=ssd_bananas_synth",
        *MODES[mode],
        f"seed={seed}",
        f"trainer.max_epochs={args.epochs}",
        f"data.prepare.num_val={args.val}",
        "data.num_workers=1",
        "trainer.deterministic=true",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={out}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{mode}, seed {seed} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    found = dict(re.findall(r"^\s+(test/\S+)\s+([-\d.]+)$", proc.stdout + proc.stderr, re.MULTILINE))
    return {"mode": mode, "seed": seed, "seconds": round(seconds, 1), **{k: float(found[k]) for k in METRICS}}


def write_report(args: argparse.Namespace, rows: list[dict]) -> None:
    def stat(mode: str, key: str, digits: int = 4) -> str:
        values = [r[key] for r in rows if r["mode"] == mode]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"

    single, ddp = (sorted((r for r in rows if r["mode"] == m), key=lambda r: r["seed"]) for m in MODES)
    paired = [d["test/mAP_50"] - s["test/mAP_50"] for s, d in zip(single, ddp)]
    lines = [
        "# DDP on two CPU processes vs one process (ssd_bananas_synth)",
        "",
        f"TinySSD from scratch on generated banana-format data (1000 train, {args.val} val = test images, 128 px), "
        f"SGD lr 0.2, wd 5e-4, {args.epochs} epochs, effective batch 32 (one process: 32; DDP: 2 x 16, gloo), "
        f"trainer.deterministic=true; mean ± sample std over seeds {args.seeds}. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (wall times are indicative only).",
        "",
        "| mode | " + " | ".join(METRICS) + " | wall s |",
        "|---|" + "---|" * (len(METRICS) + 1),
    ]
    for mode in MODES:
        lines.append(f"| {mode} | " + " | ".join(stat(mode, k) for k in METRICS) + f" | {stat(mode, 'seconds', 0)} |")
    lines += [
        "",
        "DDP minus one process, test/mAP_50, seed by seed: "
        + ", ".join(f"{d:+.4f}" for d in paired)
        + f" (mean {statistics.mean(paired):+.4f}).",
        "",
        "Per run:",
        "",
        "| mode | seed | " + " | ".join(METRICS) + " | wall s |",
        "|---|---|" + "---|" * (len(METRICS) + 1),
    ]
    lines += [
        f"| {r['mode']} | {r['seed']} | " + " | ".join(f"{r[k]:.4f}" for k in METRICS) + f" | {r['seconds']:.0f} |"
        for r in rows
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ddp_vs_single.md").write_text(text + "\n")
    (RESULTS / "ddp_vs_single.json").write_text(json.dumps({"args": vars(args), "runs": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--val", type=int, default=400, help="validation (= test) images; 1000 training images")
    parser.add_argument("--data-dir", default=None, help="where the generated data goes (default: a temporary folder)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the saved JSON")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS / "ddp_vs_single.json").read_text())
        return write_report(argparse.Namespace(**saved["args"]), saved["runs"])
    tmp = Path(tempfile.mkdtemp(prefix="ddp_vs_single_"))
    data_dir = Path(args.data_dir) if args.data_dir else tmp / "data"
    rows = []
    for seed in args.seeds:
        for mode in MODES:
            rows.append(one_run(mode, seed, args, data_dir, tmp / f"{mode.split(',')[0].replace(' ', '_')}_{seed}"))
            print(json.dumps(rows[-1]), flush=True)

    write_report(args, rows)


if __name__ == "__main__":
    main()
