"""How far is each exported file from PyTorch? For every task with a net, export.py in both formats, on a
checkpoint of the experiment's task as built (seeded initial weights: no training needed to compare the formats),
and the largest difference per output on the real photographs export.py checks with (integer outputs: the share
of differing elements). Writes experiments/results/export_differences.{md,json}.

    python experiments/export_differences.py [--out experiments/results]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from litvision.cli import CONFIG_DIR
from litvision.inference.export import export
from litvision.runtime.build import build

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = {
    "quickstart": ["data.image_size=64"],
    "fcn_voc_synth": ["model.net.weights=null"],
    "ssd_bananas_synth": ["data.image_size=128"],
    "faster_rcnn_bananas_synth": [],
    "mask_rcnn_voc_synth": [],
    "gan_digits": ["model.classifier=null"],
    "cdcgan_digits": ["model.classifier=null", "model.ema_decay=0.9"],
    "fast_style_transfer_effnet": [],
}


def _compose(name: str, overrides: list[str], out: Path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.log_dir, cfg.paths.data_dir = str(out), str(out.parent), str(out / "data")
    return cfg


def checkpoint(experiment: str, overrides: list[str], tmp: Path) -> Path:
    cfg = _compose("train", [f"experiment={experiment}", *overrides], tmp / experiment)
    torch.manual_seed(0)
    task = build(cfg.model)
    task.record_run(OmegaConf.to_container(cfg, resolve=True), {"experiment": experiment, "overrides": overrides})
    ckpt = {"state_dict": task.state_dict()}
    task.on_save_checkpoint(ckpt)
    path = tmp / f"{experiment}.ckpt"
    torch.save(ckpt, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="export_diff_"))
    rows = []
    for experiment in args.tasks:
        ckpt = checkpoint(experiment, TASKS[experiment], tmp)
        for fmt in ("onnx", "torchscript"):
            record = export(_compose("export", [f"ckpt_path={ckpt}", f"format={fmt}"], tmp / f"{experiment}_{fmt}"))
            rows.append(
                {
                    "experiment": experiment,
                    "format": fmt,
                    "checked_on": record["checked_on"],
                    "max_difference": record["max_difference"],
                    "torchscript": record.get("torchscript"),
                }
            )
    lines = [
        "# Exported files vs PyTorch",
        "",
        "Largest |difference| per output on export.py's check inputs "
        "(real photographs; seeded noise for the GANs), weights as built (seed 0); integer outputs: share of "
        "differing elements.",
        "",
        "| experiment | format | checked on | max difference per output |",
        "|---|---|---|---|",
    ]
    for r in rows:
        diff = ", ".join(f"{k} {v:.2g}" for k, v in r["max_difference"].items())
        fmt = r["format"] + (f" ({r['torchscript']})" if r["torchscript"] else "")
        lines.append(f"| {r['experiment']} | {fmt} | {r['checked_on']} | {diff} |")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export_differences.md").write_text(text + "\n")
    (args.out / "export_differences.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
