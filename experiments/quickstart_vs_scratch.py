"""The fine-tuning comparison of Dive into Deep Learning, ch. 13.2 (d2l) on the offline quickstart data:
the ImageNet-pretrained EfficientNet-Lite0 (head at 10x) against the same net from random
initialisation, each at every learning rate of a small grid and several seeds, with the test split touched only once per run
(checkpoint chosen on a validation split). Writes experiments/results/quickstart_vs_scratch.{md,json}.

    python experiments/quickstart_vs_scratch.py [--lrs 0.003 0.01 0.03] [--seeds 0 1 2] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.runtime import run

RESULTS = Path(__file__).resolve().parent / "results"


def one_run(experiment: str, lr: float, seed: int, epochs: int, data_dir: Path, out: Path) -> dict:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"experiment={experiment}",
                f"model.optimizer.lr={lr}",
                f"seed={seed}",
                f"trainer.max_epochs={epochs}",
                f"paths.data_dir={data_dir}",
                "trainer.enable_progress_bar=false",
                "logger=csv",
                "trainer.accelerator=cpu",
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    start = time.perf_counter()
    metrics = run.train(cfg)
    return {
        "experiment": experiment,
        "lr": lr,
        "seed": seed,
        "val_acc": metrics["val/acc"],
        "test_acc": metrics["test/acc"],
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.003, 0.01, 0.03])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qs_vs_scratch_"))
    rows = [
        one_run(exp, lr, seed, args.epochs, Path(args.data_dir), tmp / f"{exp}_{lr}_{seed}")
        for exp in ("quickstart", "quickstart_scratch")
        for lr in args.lrs
        for seed in args.seeds
    ]
    lines = [
        "# Fine-tuning vs training from scratch on the quickstart data (offline)",
        "",
        f"EfficientNet-Lite0, lfw_subset face / not-face (112 train, 28 val, 60 test images, 128 px), SGD "
        f"wd 1e-3, batch 32, {args.epochs} epochs; fine-tuning = ImageNet weights with the head at 10x the lr, "
        "scratch = random init with one lr. Test accuracy of the checkpoint with the best validation "
        f"accuracy; mean ± std over seeds {args.seeds}. Machine: {platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}.",
        "",
        "| lr | fine-tuned test acc | scratch test acc | fine-tuned val acc | scratch val acc |",
        "|---|---|---|---|---|",
    ]

    def stat(exp: str, lr: float, key: str) -> str:
        values = [r[key] for r in rows if r["experiment"] == exp and r["lr"] == lr]
        return f"{statistics.mean(values):.3f} ± {statistics.pstdev(values):.3f}"

    for lr in args.lrs:
        lines.append(
            f"| {lr:g} | {stat('quickstart', lr, 'test_acc')} | {stat('quickstart_scratch', lr, 'test_acc')} "
            f"| {stat('quickstart', lr, 'val_acc')} | {stat('quickstart_scratch', lr, 'val_acc')} |"
        )
    mean_s = statistics.mean(r["seconds"] for r in rows)
    lines += ["", f"Mean wall time per run: {mean_s:.0f} s (data loading, {args.epochs} epochs, test)."]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quickstart_vs_scratch.md").write_text(text + "\n")
    (RESULTS / "quickstart_vs_scratch.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
