"""Captioning on the generated scenes: the three offline experiments against two baselines, scored on
the generated test split with the task's own metrics (BLEU-4, CIDEr-D, composition).

    PYTHONPATH=src python experiments/caption_synth_study.py [--experiments caption_synth_rnn ...] [--seed 42]

Baselines (no training):
- most frequent training caption: the reference caption that occurs most often among the training
  images, given to every test image;
- nearest training image: the first reference of the training image whose pooled EfficientNet-Lite0
  features are closest (cosine) to the test image's.
Then each experiment is trained as `python train.py experiment=<name>` would (its own run folder
under outputs/), and its test metrics are those of the checkpoint with the best val/CIDEr. Writes
experiments/results/caption_synth.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from litvision.cli import CONFIG_DIR
from litvision.metrics.caption_scores import BLEU, CIDErD
from litvision.metrics.composition import composition_scores
from litvision.runtime import run
from litvision.utils.resolvers import register_resolvers

RESULTS = Path(__file__).parent / "results"
EXPERIMENTS = ("caption_synth_rnn", "caption_synth_lstm", "caption_synth_attention")
COLUMNS = ("BLEU1", "BLEU4", "CIDEr", "composition", "composition_objects", "composition_relation")


def compose_experiment(name: str, overrides: list[str], out_dir: Path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={name}", "trainer.enable_progress_bar=false", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


def score(vocab, split, captions: list[str]) -> dict[str, float]:
    """The task's metrics of one caption per image of `split`."""
    bleu, cider = BLEU(vocab), CIDErD(vocab)
    refs = [split.references(j) for j in range(split.num_images)]
    most = max(len(r) for r in refs)
    padded = torch.zeros(len(refs), most, refs[0].shape[1], dtype=torch.long)
    for j, r in enumerate(refs):
        padded[j, : len(r)] = torch.from_numpy(r)
    tokens = torch.zeros(len(captions), 32, dtype=torch.long)
    for j, caption in enumerate(captions):
        ids = [vocab.word_to_idx.get(w, 3) for w in caption.split()][:31] + [2]
        tokens[j, : len(ids)] = torch.tensor(ids)
    for metric in (bleu, cider):
        metric.update(tokens, padded, torch.arange(len(captions)))
    out = {name: float(v) for name, v in bleu.compute().items()}
    out["CIDEr"] = float(cider.compute())
    parts = [composition_scores(c, s) for c, s in zip(captions, split.scenes)]
    for key in ("composition", "objects", "relation", "background"):
        name = "composition" if key == "composition" else f"composition_{key}"
        out[name] = sum(p[key] for p in parts) / len(parts)
    return out


def baselines(datamodule) -> dict[str, dict[str, float]]:
    vocab, train, test = datamodule.vocabulary, datamodule.splits["train"], datamodule.splits["test"]
    counts = Counter(vocab.decode(row) for row in train.captions)
    frequent = counts.most_common(1)[0][0]
    train_features = torch.nn.functional.normalize(torch.from_numpy(train.features.numpy()).float(), dim=1)
    test_features = torch.nn.functional.normalize(torch.from_numpy(test.features.numpy()).float(), dim=1)
    nearest = (test_features @ train_features.T).argmax(dim=1).tolist()
    neighbour_captions = [vocab.decode(train.references(int(j))[0]) for j in nearest]
    return {
        f'most frequent training caption ("{frequent}")': score(vocab, test, [frequent] * test.num_images),
        "nearest training image (cosine, pooled features)": score(vocab, test, neighbour_captions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", nargs="*", default=list(EXPERIMENTS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(RESULTS / "caption_synth"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every experiment")
    args = parser.parse_args()
    register_resolvers()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    load = os.getloadavg()
    cfg = compose_experiment(EXPERIMENTS[1], args.overrides, Path("outputs/caption_synth_study") / stamp / "data")
    datamodule = run.build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    rows = {name: {**values, "minutes": 0.0} for name, values in baselines(datamodule).items()}
    for name in args.experiments:
        out_dir = Path("outputs") / name / "runs" / f"{stamp}_study"
        cfg = compose_experiment(name, [f"seed={args.seed}", *args.overrides], out_dir)
        start = time.perf_counter()
        metrics = run.train(cfg)
        minutes = (time.perf_counter() - start) / 60
        rows[name] = {k: metrics[f"test/{k}"] for k in (*COLUMNS, "BLEU2", "BLEU3", "composition_background")}
        rows[name]["minutes"] = minutes
        rows[name]["run"] = str(out_dir)
    test = datamodule.splits["test"]
    header = (
        "# Captioning on generated scenes: experiments vs baselines (test split)\n\n"
        f"`experiments/caption_synth_study.py` (seed {args.seed}); {test.num_images} test images, "
        f"{datamodule.splits['train'].num_images} training images, 5 references each, vocabulary of "
        f"{len(datamodule.vocabulary)} words. Metrics as the task logs them: BLEU (torchmetrics, all references), "
        "CIDEr-D (pycocoevalcap), composition = objects with their counts and the relation right. "
        f"CPU, 2 cores shared with other jobs (load average {load[0]:.1f} at start): minutes are wall-clock "
        "including feature extraction where the cache was cold.\n\n"
    )
    table = ["| model | " + " | ".join(COLUMNS) + " | minutes |", "| --- |" + " ---: |" * (len(COLUMNS) + 1)]
    table += [
        f"| {name} | " + " | ".join(f"{values[c]:.3f}" for c in COLUMNS) + f" | {values['minutes']:.1f} |"
        for name, values in rows.items()
    ]
    text = header + "\n".join(table) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
