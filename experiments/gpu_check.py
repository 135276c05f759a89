"""`make gpu-check`: does everything run on this machine's GPU, and how fast? One command for a person with
one GPU (within about 5 minutes on one H100):

1. every experiment family (classification, SSD, Faster R-CNN, Mask R-CNN, FCN, style transfer, fast style
   transfer, captioning, GAN) fits, validates and tests for a few dozen steps at each precision (32,
   16-mixed, bf16-mixed) on offline generated data: training and test images/s, peak GPU memory, finite losses
   (litvision.callbacks.throughput);
2. framework overhead: the classification training step under litvision/Lightning against a plain PyTorch
   loop of the same net, optimiser, batches and precision, in the same run;
3. ResNet-50 training at 224 px, bf16, NCHW vs channels-last, eager vs torch.compile;
4. the device data path (data.decode_on=device) against the CPU path from the same JPEG files.

    python experiments/gpu_check.py [--out experiments/results] [--smoke]

Writes gpu_check.{md,json} naming the GPU, driver, torch version and CPU cores. Without CUDA it runs the same
code on the CPU in a smoke size (precision 32, tiny images, no compile) and says so in both
files: that checks the script, not the speed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
# family -> (experiment, overrides shrinking its generated data and nets to a check's size)
FAMILIES: dict[str, tuple[str, list[str]]] = {
    "classification": ("quickstart", []),
    "SSD": ("ssd_bananas_synth", ["data.prepare.num_train=32", "data.prepare.num_val=16"]),
    "Faster R-CNN": (
        "faster_rcnn_bananas_synth",
        ["data.prepare.num_train=32", "data.prepare.num_val=16", "model.net.min_size=256", "model.net.max_size=256"],
    ),
    "Mask R-CNN": (
        "mask_rcnn_voc_synth",
        ["data.prepare.num_train=32", "data.prepare.num_val=16", "model.net.min_size=256", "model.net.max_size=320"],
    ),
    "FCN": ("fcn_voc_synth", ["data.prepare.num_train=32", "data.prepare.num_val=16"]),
    # the style images of these experiments come from Debian's opencv-doc, which a GPU image lacks
    "style transfer": ("style_transfer_effnet", ["data.style=skimage:coffee"]),
    "fast style transfer": (
        "fast_style_transfer_effnet",
        ["model.style=skimage:coffee", "+data.prepare.opencv_doc_dir=/nonexistent"],
    ),
    "captioning": (
        "caption_synth_lstm",
        ["data.prepare.num_train=256", "data.prepare.num_val=32", "data.prepare.num_test=32"],
    ),
    # FID needs a classifier trained first (experiment digits_classifier): the check keeps to the losses
    "GAN": ("dcgan_digits", ["model.classifier=null", "optimized_metric=train/g_loss", "optimized_mode=min"]),
}
# on the CPU smoke: tiny images so that all nine families run in a few minutes on 2 cores
SMOKE: dict[str, list[str]] = {
    "classification": ["data.batch_size=4"],
    "SSD": ["data.prepare.num_train=8", "data.prepare.num_val=4", "data.batch_size=4"],
    "Faster R-CNN": ["data.image_size=64", "data.batch_size=2", "model.net.min_size=64", "model.net.max_size=64"],
    "Mask R-CNN": [
        "data.prepare.height=48",
        "data.prepare.width=64",
        "model.net.min_size=48",
        "model.net.max_size=64",
        "data.batch_size=2",
    ],
    "FCN": ["data.prepare.height=48", "data.prepare.width=64", "data.crop_size=[32,32]", "data.batch_size=2"],
    "style transfer": ["data.scales=[{size:[32,48],steps:4}]"],
    "fast style transfer": [
        "+data.prepare.max_side=64",
        "data.crop_size=32",
        "data.batch_size=2",
        "model.style_size=48",
    ],
    "captioning": [
        "data.prepare.num_train=16",
        "data.prepare.num_val=8",
        "data.prepare.num_test=8",
        "data.prepare.image_size=64",
        "data.batch_size=8",
    ],
    "GAN": ["data.batch_size=16"],
}
PRECISIONS = ("32", "16-mixed", "bf16-mixed")


def machine(device: torch.device) -> dict:
    info = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor()})",
        "driver": _driver() if device.type == "cuda" else None,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "cpu_cores": len(os.sched_getaffinity(0)),
    }
    import lightning
    import torchvision

    info.update(torchvision=torchvision.__version__, lightning=lightning.__version__)
    return info


def _driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, IndexError):
        return None


# --- 1. every family at every precision ----------------------------------------------------------------
def family_run(name: str, precision: str, device: torch.device, steps: int, work: Path, smoke: bool) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from litvision.cli import CONFIG_DIR
    from litvision.runtime import run

    experiment, overrides = FAMILIES[name]
    probe = work / "probe" / f"{name}-{precision}.json".replace(" ", "_")
    args = [
        f"experiment={experiment}",
        *overrides,
        *(SMOKE[name] if smoke else []),
        f"paths.data_dir={work / 'data'}",
        "logger=none",
        "trainer.enable_progress_bar=false",
        f"trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}",
        f"trainer.precision={precision}",
        "trainer.max_epochs=1",
        f"++trainer.limit_train_batches={steps}",
        f"++trainer.limit_val_batches={2 if smoke else 4}",
        f"++trainer.limit_test_batches={3 if smoke else 8}",
        "++trainer.num_sanity_val_steps=0",
        "data.num_workers=0" if smoke else f"data.num_workers={min(8, len(os.sched_getaffinity(0)))}",
        "+callbacks.throughput._target_=litvision.callbacks.throughput.Throughput",
        f"+callbacks.throughput.out={probe}",
        f"+callbacks.throughput.warmup={1 if smoke else 5}",
    ]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=args)
    with open_dict(cfg):
        cfg.paths.output_dir = str(work / "runs" / f"{name}-{precision}-{time.time_ns()}".replace(" ", "_"))
    started = time.perf_counter()
    try:
        run.train(cfg)
        result = json.loads(probe.read_text())
        result["ok"] = bool(result["losses_finite"])
        if not result["ok"]:
            result["error"] = f"non-finite or no loss: {result['losses']}"
    except Exception as err:  # one family failing must not hide the others' results
        result = {"ok": False, "error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
        traceback.print_exc()
    result.update(family=name, experiment=experiment, precision=precision, seconds=round(time.perf_counter() - started))
    return result


# --- 2. framework overhead: Lightning vs a plain loop ------------------------------------------------------
def overhead(device: torch.device, precision: str, steps: int, batch: int, work: Path, smoke: bool) -> dict:
    import lightning as L
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from litvision.callbacks.throughput import Throughput
    from litvision.cli import CONFIG_DIR
    from litvision.data.synth.cifar10 import write_cifar10
    from litvision.runtime.build import build, build_all

    root = work / "overhead"
    if not (root / "cifar10").exists():
        write_cifar10(root / "cifar10", train_per_class=max(8, batch * (steps + 2) // 10 + 1), test_per_class=2)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=cifar10_aug",
                f"paths.data_dir={root}",
                "data.download=false",
                "data.verify_checksums=false",
                "data.num_workers=0" if smoke else f"data.num_workers={min(8, len(os.sched_getaffinity(0)))}",
                f"data.batch_size={batch}",
                f"trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}",
                f"trainer.precision={precision}",
                "trainer.enable_progress_bar=false",
                "trainer.max_epochs=-1",
                f"+trainer.max_steps={steps}",
                "+trainer.limit_val_batches=0",
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "run")
    warmup = min(5, steps // 4)
    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)
    probe = Throughput(root / "probe.json", warmup=warmup)
    trainer = build(cfg.trainer, callbacks=build_all(cfg.callbacks) + [probe], logger=build_all(cfg.logger))
    trainer.fit(task, datamodule=datamodule)
    framework = probe.train.rate()

    L.seed_everything(0, verbose=False)
    datamodule, task = build(cfg.data), build(cfg.model)
    datamodule.setup("fit")
    net = task.net.to(device).train()
    optimizer = task.optimizer_factory(net.parameters())
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    images_done, seconds, done = 0, 0.0, 0
    while done < steps:
        for images, labels in datamodule.train_dataloader():
            _sync(device)
            start = time.perf_counter()
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = torch.nn.functional.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            _sync(device)
            done += 1
            if done > warmup:
                images_done, seconds = images_done + len(labels), seconds + time.perf_counter() - start
            if done == steps:
                break
    plain = round(images_done / seconds, 1)
    return {
        "setting": f"cifar10_aug (CIFAR ResNet-18), batch {batch}, {precision}, {steps} steps ({warmup} warm-up)",
        "plain_images_per_s": plain,
        "litvision_images_per_s": framework,
        "overhead_pct": round(100 * (plain / framework - 1), 2) if framework else None,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- 3. ResNet-50: channels-last and compile -------------------------------------------------------------
def resnet50(device: torch.device, size: int, batch: int, steps: int, channels_last: bool, compiled: bool) -> dict:
    from torchvision.models import resnet50 as build_resnet50

    torch.manual_seed(0)
    net = build_resnet50(weights=None).to(device).train()
    memory = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory)
    step_net = torch.compile(net) if compiled else net
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    images = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=memory)
    labels = torch.randint(0, 1000, (batch,), device=device)
    warmup = 3 if device.type == "cuda" else 1
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(step_net(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {
        "memory_format": "channels_last" if channels_last else "NCHW",
        "compiled": compiled,
        "images_per_s": round(batch * steps / seconds, 1),
        "peak_gpu_memory_gib": None if peak is None else round(peak, 2),
        "loss_finite": math.isfinite(float(loss.detach())),
    }


# --- 4. the device data path against the CPU path -------------------------------------------------------
def decoding(device: torch.device, images: int, size: int, batch: int, workers: int, work: Path) -> list[dict]:
    from litvision.data.classification.imagefolder import ImageFolderDataModule
    from litvision.data.core.augment import load_pipeline
    from litvision.data.synth.imagefolder import write_imagefolder

    root = work / "jpegs"
    if not root.exists():
        per_class = images // 2
        classes = {"a": ["coffee", "chelsea"], "b": ["rocket", "astronaut"]}
        write_imagefolder(root, classes, {"train": per_class, "test": 1}, size=(size * 5 // 4, size * 3 // 2))
    rows = []
    for decode_on in ("cpu", "device"):
        dm = ImageFolderDataModule(
            root=str(root),
            num_classes=2,
            batch_size=batch,
            num_workers=workers,
            train_transforms=load_pipeline("imagenet_train", image_size=size),
            test_transforms=load_pipeline("imagenet_eval", image_size=size),
            pin_memory=device.type == "cuda",
            persistent_workers=True if workers else None,
            decode_on=decode_on,
        )
        dm.setup("fit")
        loader = dm.train_dataloader()
        for _ in range(2):  # the first epoch starts the workers; the second is timed
            _sync(device)
            start, seen = time.perf_counter(), 0
            for batch_ in loader:
                out, _labels = dm.transfer_batch_to_device(batch_, device, 0)
                seen += len(out)
            _sync(device)
            seconds = time.perf_counter() - start
        rows.append(
            {"decode_on": decode_on, "images": seen, "workers": workers, "images_per_s": round(seen / seconds, 1)}
        )
    return rows


# --- the report ------------------------------------------------------------------------------------------
def report(result: dict) -> str:
    env, smoke = result["machine"], result["smoke"]
    lines = ["# GPU check (`make gpu-check`)", ""]
    if smoke:
        lines += [
            "**Smoke run on the CPU: no CUDA device here.** The same code at a smoke size (tiny images, a few steps, "
            "no compile); it checks that the script and every family run, not how fast a GPU is.",
            "",
        ]
    lines += [f"Machine: {env}", "", "## Every experiment family", ""]
    lines += [
        "| family | experiment | precision | ok | train img/s | test img/s | peak GPU GiB | last losses | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["families"]:
        losses = ", ".join(f"{k}={v:.3g}" for k, v in (r.get("losses") or {}).items()) or r.get("error", "")
        lines.append(
            f"| {r['family']} | {r['experiment']} | {r['precision']} | {'yes' if r['ok'] else 'NO'} "
            f"| {r.get('train_images_per_s')} | {r.get('test_images_per_s')} | {r.get('peak_gpu_memory_gib')} "
            f"| {losses} | {r['seconds']} |"
        )
    o = result["overhead"]
    lines += ["", "## Framework overhead (litvision/Lightning vs a plain PyTorch loop)", "", o["setting"], ""]
    lines += [
        f"plain loop {o['plain_images_per_s']} img/s, litvision {o['litvision_images_per_s']} img/s: "
        f"overhead {o['overhead_pct']}% (target: within 5%)",
        "",
        f"## ResNet-50 training, bf16, {result['resnet50_setting']}",
        "",
        "| memory format | compiled | img/s | peak GPU GiB |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['memory_format']} | {r['compiled']} | {r['images_per_s']} | {r['peak_gpu_memory_gib']} |"
        for r in result["resnet50"]
    ]
    lines += ["", f"## Decoding JPEG files: {result['decode_setting']}", "", "| decode_on | workers | img/s |"]
    lines += ["|---|---|---|"] + [
        f"| {r['decode_on']} | {r['workers']} | {r['images_per_s']} |" for r in result["decode"]
    ]
    failed = [f"{r['family']} at {r['precision']}" for r in result["families"] if not r["ok"]]
    lines += ["", f"Families that failed: {', '.join(failed) if failed else 'none'}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gpu_check.md and gpu_check.json")
    parser.add_argument("--smoke", action="store_true", help="the CPU smoke size even on a GPU")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), help="a subset of: " + ", ".join(FAMILIES))
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    smoke = args.smoke or not cuda
    device = torch.device("cuda" if cuda and not args.smoke else "cpu")
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    if smoke:
        print("gpu-check: no CUDA device" if not cuda else "gpu-check: --smoke", "- running the CPU smoke size")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    precisions = ("32",) if smoke else PRECISIONS  # a CPU's bf16 autocast is slow and tests nothing of a GPU's
    steps = 3 if smoke else 30
    result: dict = {"smoke": smoke, "machine": machine(device), "families": []}
    for name in args.families:
        for precision in precisions:
            row = family_run(name, precision, device, steps, work, smoke)
            print(f"{name} {precision}: {'ok' if row['ok'] else row.get('error')}", flush=True)
            result["families"].append(row)
    result["overhead"] = overhead(
        device, "32" if smoke else "bf16-mixed", 6 if smoke else 60, 8 if smoke else 256, work, smoke
    )
    size, batch = (32, 2) if smoke else (224, 256)
    variants = [(False, False), (True, False)] + ([] if smoke else [(True, True)])
    result["resnet50_setting"] = f"{size} px, batch {batch}, SGD"
    result["resnet50"] = [resnet50(device, size, batch, 2 if smoke else 30, cl, c) for cl, c in variants]
    workers = 0 if smoke else len(os.sched_getaffinity(0))
    n_images, dsize = (16, 48) if smoke else (2048, 224)
    result["decode_setting"] = (
        f"{n_images} JPEGs, imagenet_train augmentation to {dsize} px, batch {8 if smoke else 256}"
    )
    result["decode"] = decoding(device, n_images, dsize, 8 if smoke else 256, workers, work)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(result)
    (args.out / "gpu_check.md").write_text(text)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
