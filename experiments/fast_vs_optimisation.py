"""Fast (feed-forward, Johnson et al. 2016) against optimisation-based (Gatys et al., Dive into Deep
Learning ch. 13) style transfer on the held-out content photographs, in one run, interleaved per photo:

- fast: one forward pass of a trained fast_style_transfer_effnet network (`--ckpt`);
- optimisation: the style_transfer_effnet experiment (500 Adam steps from the photo) at the same size.

Both results are scored, as the 8-bit pixels a user gets, by the same loss: the efficientnet_lite0
extractor, layers and weights both experiments use (content block4_1; style stem, block2_2, block3_2,
block4_3; 1 / 1e3 / 200), with the style image resized to the photo's size as the optimisation sees it.
Time per image: the fast net's forward (best of 3 after one warm-up) against the optimisation's fit
(its 500 steps), on one torch thread. Writes experiments/results/fast_style_transfer/fast_vs_optimisation.
{md,json} and one strip per photo (content | optimisation | fast).

    python train.py experiment=fast_style_transfer_effnet          # the network (its run folder)
    python experiments/fast_vs_optimisation.py --ckpt outputs/fast_style_transfer_effnet/runs/<time>/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF
from hydra import compose, initialize_config_dir
from torchvision.utils import make_grid

from litvision.cli import CONFIG_DIR
from litvision.data.core.images import as_8bit, load_image, save_image
from litvision.data.style.content_images import find_images
from litvision.data.style.style_images import load_framed_image
from litvision.inference.export import export_spec
from litvision.nets.style_layers import (
    content_targets,
    perceptual_loss,
    resolve_style_layers,
    style_feature_extractor,
    style_grams,
)
from litvision.runtime.build import build
from litvision.runtime.checkpoints import load_litvision_checkpoint

RESULTS = Path(__file__).resolve().parent / "results" / "fast_style_transfer"


def optimisation_config(content: Path, size: tuple[int, int], steps: int, out: Path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            "train",
            overrides=[
                "experiment=style_transfer_effnet",
                f"data.content=[{content}]",
                f"data.scales=[{{size:[{size[0]},{size[1]}],steps:{steps}}}]",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                "logger=none",
                "callbacks=none",
                f"paths.output_dir={out}",
            ],
        )


def optimise(content: Path, size: tuple[int, int], steps: int, out: Path):
    """style_transfer_effnet on `content` at `size`: the result (3, H, W) in [0, 1], seconds, its config."""
    cfg = optimisation_config(content, size, steps, out)
    datamodule, model = build(cfg.data), build(cfg.model)
    trainer = build(cfg.trainer, callbacks=[], logger=False, enable_checkpointing=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    seconds = time.perf_counter() - start
    return model.display_images()["result"][0], seconds, cfg


def stylise(net: torch.nn.Module, content: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The fast net's result (3, H, W) and the best of 3 timed forward passes after a warm-up."""
    with torch.inference_mode():
        net(content[None])
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = net(content[None])[0]
            times.append(time.perf_counter() - start)
    return result, min(times)


def score(extractor, layers, tv_weight, result, content, style) -> dict:
    """The loss parts of `result` as stored in 8 bits, against `content` and `style` (all (3, H, W))."""
    normalize = extractor.input_normalization
    with torch.no_grad():
        loss = perceptual_loss(
            extractor,
            layers,
            normalize(as_8bit(result)[None]),
            content_targets(extractor, layers, normalize(content[None])),
            style_grams(extractor, layers, normalize(style[None])),
            tv_weight,
        )
    return {k: round(float(getattr(loss, k)), 3) for k in ("content", "style", "tv", "total")}


def read(ref: str | Path, size: tuple[int, int], border: int = 0) -> torch.Tensor:
    """As the style-transfer data module reads its images: frame cut, bilinear (antialiased) to `size`."""
    image = load_framed_image(str(ref), "image", border) if border else load_image(ref)
    image = TF.resize(image, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path, help="a fast_style_transfer_effnet checkpoint")
    parser.add_argument("--photos", type=Path, default=Path("data/content_photos/heldout"))
    parser.add_argument("--height", type=int, default=300, help="each photo's height (width keeps its aspect)")
    parser.add_argument("--steps", type=int, default=500, help="optimisation steps (style_transfer_effnet's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    spec, meta = export_spec(args.ckpt)
    net = spec.module
    fast_cfg = load_litvision_checkpoint(args.ckpt)["litvision"]["config"]
    photos = find_images(args.photos)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, extractor = [], None
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for index, photo in enumerate(photos):
            with load_image(photo) as image:
                width, height = image.size
            size = (args.height, round(width * args.height / height))
            content = read(photo, size)
            fast, fast_s = stylise(net, content)
            optimised, opt_s, opt_cfg = optimise(photo, size, args.steps, Path(tmp) / str(index))
            opt_model, fast_model = opt_cfg.model, fast_cfg["model"]
            keys = ("backbone", "content_layers", "style_layers", "content_weight", "style_weight", "tv_weight")
            differs = [k for k in keys if fast_model[k] != opt_model[k]]
            differs += [k for k in ("style", "style_border") if fast_model[k] != opt_cfg.data[k]]
            if differs:
                raise SystemExit(f"the fast and the optimisation experiments differ in {differs}: not comparable")
            if extractor is None:
                layers = resolve_style_layers(
                    opt_model.backbone,
                    list(opt_model.content_layers),
                    list(opt_model.style_layers),
                    opt_model.content_weight,
                    opt_model.style_weight,
                )
                extractor = style_feature_extractor(layers, "imagenet")
            style = read(fast_model["style"], size, fast_model["style_border"])
            scores = {
                name: score(extractor, layers, opt_model.tv_weight, result, content, style)
                for name, result in (("optimisation", optimised), ("fast", fast))
            }
            strip = make_grid(torch.stack([content, optimised, fast.float()]), nrow=3, padding=4, pad_value=1.0)
            save_image(strip, args.out / f"{photo.stem}_strip.png")
            rows.append(
                {
                    "photo": str(photo.relative_to(args.photos)),
                    "size": list(size),
                    "optimisation_s": round(opt_s, 2),
                    "fast_s": round(fast_s, 4),
                    "speedup": round(opt_s / fast_s, 1),
                    "style_ratio": round(scores["fast"]["style"] / scores["optimisation"]["style"], 2),
                    **{f"{name}_{k}": v for name, part in scores.items() for k, v in part.items()},
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    report = {
        "checkpoint": str(args.ckpt),
        "fast_experiment": fast_cfg.get("task_name"),
        "fast_net": fast_cfg["model"]["net"],
        "optimisation_steps": args.steps,
        "torch_threads": 1,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "load_average_start_end": [round(load_start[0], 1), round(os.getloadavg()[0], 1)],
        "rows": rows,
    }
    (args.out / "fast_vs_optimisation.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "fast_vs_optimisation.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# Fast vs optimisation-based style transfer on the held-out photographs",
        "",
        f"Fast: `{report['fast_experiment']}` ({report['checkpoint']}), one forward pass; optimisation: "
        f"`style_transfer_effnet`, {report['optimisation_steps']} Adam steps. Losses of the 8-bit results under "
        f"the same efficientnet_lite0 loss (weights 1 / 1e3 / 200). {report['torch_threads']} torch thread, "
        f"{report['machine']}, load average {report['load_average_start_end'][0]} at the start and "
        f"{report['load_average_start_end'][1]} at the end (shared machine).",
        "",
        "| photo | size | optimisation s | fast s | speed-up | style opt / fast (ratio) | content opt / fast | TV opt / fast | total opt / fast |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['photo']} | {r['size'][0]}x{r['size'][1]} | {r['optimisation_s']} | {r['fast_s']} | "
            f"{r['speedup']}x | {r['optimisation_style']} / {r['fast_style']} ({r['style_ratio']}x) | "
            f"{r['optimisation_content']} / {r['fast_content']} | {r['optimisation_tv']} / {r['fast_tv']} | "
            f"{r['optimisation_total']} / {r['fast_total']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
