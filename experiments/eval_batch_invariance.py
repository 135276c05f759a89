"""Evaluation that does not depend on the batch size (issue 21): FCN full-image (`fcn_voc_synth
data.eval_mode=full`) and Mask R-CNN (`mask_rcnn_voc_synth`) trained briefly, then the best checkpoint
tested as eval.py does at batch 1 and 8, with today's per-image inference and with the batched inference
it replaced (predicting on the padded batch), and the test throughput of each.

    PYTHONPATH=src python experiments/eval_batch_invariance.py [--epochs 2] [--out /tmp/eval_batch]
        [--experiments fcn_voc_synth ...] [--ckpt <a checkpoint of the one experiment named, instead of training>]

"images/s" is the test split's images over the wall time of `litvision.runtime.run.evaluate` (data set-up
included), one run each on this machine. Writes experiments/results/eval_batch_invariance.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.data.core import padding
from litvision.runtime import run
from litvision.tasks import rcnn

RESULTS = Path(__file__).parent / "results"
EXPERIMENTS = {
    "fcn_voc_synth": (["data.eval_mode=full"], ("test/mIoU", "test/acc")),
    "mask_rcnn_voc_synth": ([], ("test/mAP", "test/mask_mAP")),
}
COMMON = ["trainer.enable_progress_bar=false", "logger=none", "data.num_workers=0", "trainer.deterministic=true"]


def _compose(overrides: list[str], out: Path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*COMMON, *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


@contextmanager
def batched_inference():
    """The inference this issue replaced: FCN on the padded batch (no sizes from the collate), Mask R-CNN on
    the padded images, batched by torchvision."""
    collate, unpadded, detections = padding.PadCollate.__call__, rcnn.unpadded, rcnn.RCNNTask.detections

    def detect_batched(self, images):
        out = []
        for d in self(images):
            item = {"boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"] - 1}
            if "masks" in d:
                item["masks"] = d["masks"][:, 0] >= self.mask_threshold
            out.append(item)
        return out

    padding.PadCollate.__call__ = lambda self, batch: collate(self, batch)[:2]
    rcnn.unpadded = lambda images, targets: (
        images,
        [{k: v for k, v in t.items() if k != "image_size"} for t in targets],
    )
    rcnn.RCNNTask.detections = detect_batched
    try:
        yield
    finally:
        padding.PadCollate.__call__, rcnn.unpadded, rcnn.RCNNTask.detections = collate, unpadded, detections


def evaluate(name: str, extra: list[str], ckpt: str, batch: int, out: Path) -> tuple[dict, float]:
    cfg = _compose([f"experiment={name}", *extra, f"data.batch_size={batch}", f"ckpt_path={ckpt}"], out)
    started = time.perf_counter()
    metrics = run.evaluate(cfg)
    seconds = time.perf_counter() - started
    return metrics, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/eval_batch_invariance"))
    parser.add_argument("--experiments", nargs="*", default=list(EXPERIMENTS))
    parser.add_argument("--ckpt", default=None)
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    rows = []
    for name in args.experiments:
        extra, keys = EXPERIMENTS[name]
        base = args.out / name
        ckpt = args.ckpt
        if ckpt is None:
            overrides = [f"experiment={name}", *extra, f"trainer.max_epochs={args.epochs}", "test=false"]
            run.train(_compose(overrides, base / "train"))
            ckpt = str(next((base / "train/checkpoints").glob("epoch*.ckpt")))
        for inference in ("per-image (now)", "batched (before)"):
            for batch in (1, 8):
                folder = base / f"eval_{'before' if 'before' in inference else 'now'}_{batch}"
                if "before" in inference:
                    with batched_inference():
                        metrics, seconds = evaluate(name, extra, ckpt, batch, folder)
                else:
                    metrics, seconds = evaluate(name, extra, ckpt, batch, folder)
                rows.append(
                    {
                        "experiment": name,
                        "inference": inference,
                        "batch": batch,
                        "seconds": seconds,
                        **{k: metrics.get(k) for k in keys},
                        "keys": list(keys),
                    }
                )
                print(rows[-1], flush=True)
    _write(rows, args)


def _write(rows: list[dict], args) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eval_batch_invariance.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "# Test figures at eval batch 1 and 8, per-image inference (now) vs batched (before)",
        "",
        f"`PYTHONPATH=src python experiments/eval_batch_invariance.py {' '.join(args.argv)}`: "
        + (
            f"the checkpoint {args.ckpt}"
            if args.ckpt
            else f"each experiment trained {args.epochs} epochs (deterministic, seed 42), its best checkpoint"
        )
        + " tested by `litvision.runtime.run.evaluate`; seconds = wall time of that evaluation (set-up included), "
        "one run each on a 2-core machine shared with other jobs.",
        "",
        "| experiment | inference | batch | metric 1 | metric 2 | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        a, b = r["keys"]
        lines.append(
            f"| {r['experiment']} | {r['inference']} | {r['batch']} | {a} {r[a]:.4f} | {b} {r[b]:.4f} | {r['seconds']:.1f} |"
        )
    (RESULTS / "eval_batch_invariance.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
