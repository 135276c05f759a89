"""SSD against Faster R-CNN on one generated banana-format set: TinySSD (from scratch), TinySSD's heads on
ImageNet EfficientNet-Lite0 features, and torchvision's Faster R-CNN on the EfficientNet-Lite0 FPN, each
trained with its own experiment's recipe on the same images (3 classes, 0-3 objects per image, empty
images included, 128 px), in one run. Reports val mAP@[.5:.95] and mAP@0.5 after the last epoch,
the wall time of fitting (validation every epoch included; the data generated beforehand) and inference images/s at batch 1 and 16
(forward + decoding to final boxes, timed round-robin over the three nets so machine load hits them
alike). Writes experiments/results/compare_detectors.{md,json}.

    python experiments/compare_detectors.py [--train 1000] [--val 100] [--epochs-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
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
from litvision.runtime.checkpoints import load_litvision_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
DETECTORS = {
    "TinySSD": "ssd_bananas_synth",
    "TinySSD + EfficientNet-Lite0": "ssd_bananas_synth_effnet",
    "Faster R-CNN, EfficientNet-Lite0 FPN": "faster_rcnn_bananas_synth",
}
# the data of faster_rcnn_bananas_synth, given to every detector
DATA = ["data.image_size=128", "data.num_classes=3", "data.prepare.objects_per_image=[0,3]"]


def config(experiment: str, args: argparse.Namespace, data_dir: Path, out: Path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"experiment={experiment}",
                *DATA,
                f"data.prepare.num_train={args.train}",
                f"data.prepare.num_val={args.val}",
                f"paths.data_dir={data_dir}",
                "trainer.enable_progress_bar=false",
                "trainer.accelerator=cpu",
                "logger=csv",
                "test=false",
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.trainer.max_epochs = max(1, round(cfg.trainer.max_epochs * args.epochs_scale))
    return cfg


def train(name: str, args: argparse.Namespace, data_dir: Path, out: Path) -> dict:
    """Fit one detector (test=false: run.train is Trainer.fit); its last epoch's val metrics."""
    cfg = config(DETECTORS[name], args, data_dir, out)
    start = time.perf_counter()
    metrics = run.train(cfg)
    return {
        "detector": name,
        "experiment": DETECTORS[name],
        "epochs": cfg.trainer.max_epochs,
        "batch_size": cfg.data.batch_size,
        "mAP": metrics["val/mAP"],
        "mAP_50": metrics["val/mAP_50"],
        "fit_seconds": round(time.perf_counter() - start, 1),
        "checkpoint": str(out / "checkpoints" / "last.ckpt"),
        "cfg": cfg,
    }


def inference_speed(rows: list[dict], images: torch.Tensor, repeats: int = 3) -> None:
    """Images/s at batch 1 and 16 for each trained net, median of `repeats` round-robin passes."""
    tasks = []
    for row in rows:
        task = run.build(row["cfg"].model)
        task.load_state_dict(load_litvision_checkpoint(row["checkpoint"])["state_dict"])
        tasks.append(task.eval())

    timings = {(i, b): [] for i in range(len(tasks)) for b in (1, 16)}
    with torch.inference_mode():
        for task in tasks:  # warm-up
            task.detections(images[:16])
        for _ in range(repeats):
            for batch_size in (1, 16):
                for i, task in enumerate(tasks):
                    n = 16 if batch_size == 1 else 64
                    start = time.perf_counter()
                    for first in range(0, n, batch_size):
                        task.detections(images[first : first + batch_size])
                    timings[(i, batch_size)].append(n / (time.perf_counter() - start))
    for i, row in enumerate(rows):
        row["images_per_s_batch1"] = round(statistics.median(timings[(i, 1)]), 1)
        row["images_per_s_batch16"] = round(statistics.median(timings[(i, 16)]), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=1000, help="generated training images")
    parser.add_argument("--val", type=int, default=100, help="generated validation images")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="times each experiment's epochs")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--note", default="", help="machine conditions, written into the table")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="compare_detectors_"))
    run.build(config(DETECTORS["TinySSD"], args, Path(args.data_dir), tmp / "data").data).prepare_data()  # untimed
    rows = [train(name, args, Path(args.data_dir), tmp / str(i)) for i, name in enumerate(DETECTORS)]
    datamodule = run.build(rows[0]["cfg"].data)
    datamodule.setup("validate")
    images = torch.stack([datamodule.val_set[i][0] for i in range(64)])
    inference_speed(rows, images)
    for row in rows:
        del row["cfg"], row["checkpoint"]
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    (RESULTS / "compare_detectors.json").write_text(
        json.dumps({"machine": machine, "note": args.note, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# SSD vs Faster R-CNN on one generated banana-format set",
        "",
        f"{args.train} train / {args.val} val images of 128x128, 3 classes (coffee cup, cat face, horse), 0-3 objects "
        "per image (empty images included), generated offline by litvision.data.synth.bananas; each detector "
        "with its own experiment's recipe (optimiser, batch, epochs), one run, seed 42. mAP on the val split "
        "after the last epoch (torchmetrics, COCO mAP@[.5:.95] and mAP@0.5). Fit time: wall clock of "
        "Trainer.fit (validation every epoch included). Inference: forward + decoding to the final boxes, "
        f"128 px, median of 3 round-robin passes. Machine: {machine}. {args.note}",
        "",
        "| detector | experiment | epochs | batch | val mAP | val mAP@0.5 | fit time (s) | images/s, batch 1 | images/s, batch 16 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['detector']} | `{r['experiment']}` | {r['epochs']} | {r['batch_size']} | {r['mAP']:.3f} | "
            f"{r['mAP_50']:.3f} | {r['fit_seconds']:.0f} | {r['images_per_s_batch1']:.1f} | {r['images_per_s_batch16']:.1f} |"
        )
    (RESULTS / "compare_detectors.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
