"""VOC segmentation data pipeline: this project's streaming VOCSegmentationDataModule against the
preload-everything VOCSegDataset of Dive into Deep Learning, ch. 13.9 (d2l), on a generated VOC-format set of realistic image sizes (~500x375).

Each (data-set size, pipeline) runs in a fresh subprocess that builds the train and val sets (as
d2l's load_data_voc does) and iterates the train loader for a few epochs, touching every batch. The
parent samples the memory of that process and its DataLoader workers every 20 ms:

- peak PSS (proportional set size, summed over the process tree): the honest total, since forked
  workers share most pages with their parent and plain RSS would count them once per process;
- the same peak minus the PSS right after the imports (torch, torchvision, lightning), i.e. what the
  pipeline itself holds;
- ru_maxrss of the main process (RUSAGE_SELF) and of the largest worker (RUSAGE_CHILDREN), as the
  kernel reports them.

    PYTHONPATH=src python experiments/bench_voc_pipeline.py            # writes experiments/results/voc_pipeline.{md,json}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CROP = (320, 480)
# preload: d2l's VOCSegDataset (normalised float32 held in memory);
# stream: VOCSegmentationDataModule as it ships (uint8 batches, for the net to normalise on its device);
# stream_cpu_norm: the same plus the net's normalisation run in the consuming process, as when
# training on the CPU
VARIANTS = ("preload", "stream", "stream_cpu_norm")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# --- memory of a process tree (Linux /proc) ---------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return kids


def _tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        stack += _children(p)
    return pids


def pss_kb(pid: int) -> int:
    """Proportional set size of one process in kB (0 if it has exited)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kb(pid: int) -> int:
    return sum(pss_kb(p) for p in _tree(pid))


# --- d2l's pipeline, as written there (ch. 13.9, "自定义语义分割数据集类") ---------------------------


def d2l_pipeline(voc_dir: str, batch_size: int, num_workers: int):
    import torch
    import torchvision

    VOC_COLORMAP = [
        [0, 0, 0],
        [128, 0, 0],
        [0, 128, 0],
        [128, 128, 0],
        [0, 0, 128],
        [128, 0, 128],
        [0, 128, 128],
        [128, 128, 128],
        [64, 0, 0],
        [192, 0, 0],
        [64, 128, 0],
        [192, 128, 0],
        [64, 0, 128],
        [192, 0, 128],
        [64, 128, 128],
        [192, 128, 128],
        [0, 64, 0],
        [128, 64, 0],
        [0, 192, 0],
        [128, 192, 0],
        [0, 64, 128],
    ]

    def read_voc_images(voc_dir, is_train=True):
        txt_fname = os.path.join(voc_dir, "ImageSets", "Segmentation", "train.txt" if is_train else "val.txt")
        mode = torchvision.io.image.ImageReadMode.RGB
        with open(txt_fname) as f:
            images = f.read().split()
        features, labels = [], []
        for fname in images:
            features.append(torchvision.io.read_image(os.path.join(voc_dir, "JPEGImages", f"{fname}.jpg")))
            labels.append(torchvision.io.read_image(os.path.join(voc_dir, "SegmentationClass", f"{fname}.png"), mode))
        return features, labels

    def voc_colormap2label():
        colormap2label = torch.zeros(256**3, dtype=torch.long)
        for i, colormap in enumerate(VOC_COLORMAP):
            colormap2label[(colormap[0] * 256 + colormap[1]) * 256 + colormap[2]] = i
        return colormap2label

    def voc_label_indices(colormap, colormap2label):
        colormap = colormap.permute(1, 2, 0).numpy().astype("int32")
        idx = (colormap[:, :, 0] * 256 + colormap[:, :, 1]) * 256 + colormap[:, :, 2]
        return colormap2label[idx]

    def voc_rand_crop(feature, label, height, width):
        rect = torchvision.transforms.RandomCrop.get_params(feature, (height, width))
        feature = torchvision.transforms.functional.crop(feature, *rect)
        label = torchvision.transforms.functional.crop(label, *rect)
        return feature, label

    class VOCSegDataset(torch.utils.data.Dataset):
        def __init__(self, is_train, crop_size, voc_dir):
            self.transform = torchvision.transforms.Normalize(mean=MEAN, std=STD)
            self.crop_size = crop_size
            features, labels = read_voc_images(voc_dir, is_train=is_train)
            # d2l normalises the raw 0..255 floats (img.float()), not img/255; kept as written
            self.features = [self.normalize_image(feature) for feature in self.filter(features)]
            self.labels = self.filter(labels)
            self.colormap2label = voc_colormap2label()

        def normalize_image(self, img):
            return self.transform(img.float())

        def filter(self, imgs):
            return [img for img in imgs if img.shape[1] >= self.crop_size[0] and img.shape[2] >= self.crop_size[1]]

        def __getitem__(self, idx):
            feature, label = voc_rand_crop(self.features[idx], self.labels[idx], *self.crop_size)
            return feature, voc_label_indices(label, self.colormap2label)

        def __len__(self):
            return len(self.features)

    # load_data_voc: both splits are built (and held) before training
    train, val = VOCSegDataset(True, CROP, voc_dir), VOCSegDataset(False, CROP, voc_dir)
    loader = torch.utils.data.DataLoader(train, batch_size, shuffle=True, drop_last=True, num_workers=num_workers)
    return loader, [train, val]


def streaming_pipeline(voc_dir: str, batch_size: int, num_workers: int):
    """VOCSegmentationDataModule as data=voc builds it, with its augment presets (the joint crops)."""
    import hydra
    from hydra import compose, initialize_config_dir

    from litvision.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=voc", f"data.crop_size=[{CROP[0]},{CROP[1]}]"])
    dm = hydra.utils.instantiate(cfg.data, root=voc_dir, download=False, batch_size=batch_size, num_workers=num_workers)
    dm.setup("fit")  # validates and builds train and val
    return dm.train_dataloader(), [dm]


# --- one measured run (in its own process) ----------------------------------------------------------


def run_variant(variant: str, voc_dir: str, batch_size: int, num_workers: int, epochs: int) -> dict:
    import hydra  # noqa: F401
    import lightning  # noqa: F401
    import torch  # noqa: F401  (imports are part of the baseline, not of the pipeline)
    import torchvision  # noqa: F401

    import litvision.data.segmentation.voc  # noqa: F401
    from litvision.nets.normalization import InputNormalization

    normalize = InputNormalization(MEAN, STD)  # what the FCN does first (resnet18's statistics)

    torch.set_num_threads(1)
    baseline_kb = pss_kb(os.getpid())
    start = time.perf_counter()
    if variant == "preload":
        loader, keep_alive = d2l_pipeline(voc_dir, batch_size, num_workers)
    else:
        loader, keep_alive = streaming_pipeline(voc_dir, batch_size, num_workers)
    built = time.perf_counter()
    images, epoch_ends, first_batch = 0, [], None
    for _ in range(epochs):
        for x, y in loader:
            if first_batch is None:
                first_batch = time.perf_counter()
                shapes = (tuple(x.shape), str(x.dtype), tuple(y.shape), str(y.dtype))
            if variant == "stream_cpu_norm":  # what the net does first, here on the CPU
                x = normalize(x)
            x.sum(), y.max()  # the model reads the batch
            images += x.shape[0]
        epoch_ends.append(time.perf_counter())
    per_epoch = images // epochs
    del loader, keep_alive  # shuts the workers down, so RUSAGE_CHILDREN covers them
    return {
        "variant": variant,
        "train_images": len(Path(voc_dir, "ImageSets/Segmentation/train.txt").read_text().split()),
        "images_per_epoch": per_epoch,
        "batch_shapes": shapes,
        "build_s": built - start,
        "first_batch_s": first_batch - start,
        "total_s": epoch_ends[-1] - start,
        "images_per_s": images / (epoch_ends[-1] - start),
        "steady_images_per_s": per_epoch * (epochs - 1) / (epoch_ends[-1] - epoch_ends[0]) if epochs > 1 else None,
        "baseline_pss_mb": baseline_kb / 1024,
        "maxrss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "maxrss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def measure(variant: str, voc_dir: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--run",
        variant,
        "--voc-dir",
        str(voc_dir),
        "--batch-size",
        str(args.batch_size),
        "--workers",
        str(args.workers),
        "--epochs",
        str(args.epochs),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, tree_pss_kb(proc.pid))
        time.sleep(0.02)
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} run failed ({proc.returncode}):\n{out}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_pss_mb"] = peak_kb / 1024
    result["pipeline_pss_mb"] = result["peak_pss_mb"] - result["baseline_pss_mb"]
    return result


# --- data -------------------------------------------------------------------------------------------


def prepare_data(data: Path, sizes: list[int]) -> dict[int, Path]:
    """One generated VOC tree with max(sizes) images (half train, half val, as VOC's 1464/1449), and for
    each smaller size a tree whose split files list a prefix of it (image folders are symlinks).
    Returns the VOC2012 folder of each size (both pipelines are given that folder)."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from litvision.data.synth.voc import generate_voc

    largest = max(sizes)
    full = data / f"voc_{largest}"
    voc_full = full / "VOCdevkit" / "VOC2012"
    if not (voc_full / "ImageSets" / "Segmentation" / "val.txt").is_file():
        print(f"generating {largest} VOC-format images of about 500x375 in {full} ...", flush=True)
        # jitter 0.04 keeps widths >= 480 (the crop) as in VOC's landscape images; 10% are small (dropped)
        generate_voc(
            full,
            num_train=largest // 2,
            num_val=largest - largest // 2,
            height=375,
            width=500,
            jitter=0.04,
            small_fraction=0.1,
            seed=0,
        )
    trees = {largest: voc_full}
    train = (voc_full / "ImageSets/Segmentation/train.txt").read_text().split()
    val = (voc_full / "ImageSets/Segmentation/val.txt").read_text().split()
    for n in sizes:
        if n == largest:
            continue
        root = data / f"voc_{n}"
        voc = root / "VOCdevkit" / "VOC2012"
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        for sub in ("JPEGImages", "SegmentationClass"):
            if (voc / sub).is_symlink():  # may point into the tree of an earlier, different --sizes
                (voc / sub).unlink()
            (voc / sub).symlink_to(voc_full / sub, target_is_directory=True)
        (voc / "ImageSets/Segmentation/train.txt").write_text("".join(f"{i}\n" for i in train[: n // 2]))
        (voc / "ImageSets/Segmentation/val.txt").write_text("".join(f"{i}\n" for i in val[: n - n // 2]))
        trees[n] = voc
    return trees


# --- report -----------------------------------------------------------------------------------------


TIMES = ("build_s", "first_batch_s", "total_s", "images_per_s", "steady_images_per_s")
MEMORY = ("peak_pss_mb", "pipeline_pss_mb", "maxrss_main_mb", "maxrss_worker_mb")


def summarise(runs: list[dict]) -> list[dict]:
    """Per (size, pipeline): the median of each timing over the repeats and the largest memory figure."""
    out = []
    for size in sorted({r["size"] for r in runs}):
        for variant in VARIANTS:
            group = [r for r in runs if r["size"] == size and r["variant"] == variant]
            if not group:  # the baseline, left out at this size (--baseline-sizes)
                continue
            row = {"size": size, "variant": variant, "repeats": len(group)}
            row.update({k: statistics.median(r[k] for r in group) for k in TIMES})
            row.update({k: max(r[k] for r in group) for k in MEMORY})
            row["steady_images_per_s_range"] = (
                min(r["steady_images_per_s"] for r in group),
                max(r["steady_images_per_s"] for r in group),
            )
            out.append(row)
    return out


def table(results: list[dict]) -> str:
    head = (
        "| train+val images | pipeline | build s | first batch s | total s | img/s (total) | img/s (steady) "
        "| peak PSS MB | pipeline PSS MB | maxrss main MB | maxrss worker MB |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        lo, hi = r["steady_images_per_s_range"]
        rows.append(
            f"| {r['size']} | {r['variant']} | {r['build_s']:.1f} | {r['first_batch_s']:.1f} | {r['total_s']:.1f} "
            f"| {r['images_per_s']:.1f} | {r['steady_images_per_s']:.1f} ({lo:.0f}-{hi:.0f}) | {r['peak_pss_mb']:.0f} "
            f"| {r['pipeline_pss_mb']:.0f} | {r['maxrss_main_mb']:.0f} | {r['maxrss_worker_mb']:.0f} |"
        )
    return "\n".join(rows)


def verdict(results: list[dict]) -> list[str]:
    lines = []
    by = {(r["size"], r["variant"]): r for r in results}
    sizes = sorted({r["size"] for r in results})
    for size in sizes:
        p = by.get((size, "preload"))
        if p is None:
            lines.append(f"- {size} images: no preloading baseline in this run (--baseline-sizes).")
            continue
        for variant in VARIANTS[1:]:
            s = by[(size, variant)]
            lines.append(
                f"- {size} images, {variant} vs preload: throughput {s['images_per_s'] / p['images_per_s']:.2f}x over "
                f"the whole run, {s['steady_images_per_s'] / p['steady_images_per_s']:.2f}x in steady state; peak PSS "
                f"{s['peak_pss_mb'] / p['peak_pss_mb']:.2f}x (pipeline only {s['pipeline_pss_mb'] / p['pipeline_pss_mb']:.2f}x)."
            )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for variant in VARIANTS:
            if (lo, variant) not in by or (hi, variant) not in by:
                continue
            a, b = by[(lo, variant)], by[(hi, variant)]
            lines.append(
                f"- {lo} -> {hi} images ({hi / lo:.0f}x the data), {variant}: peak PSS {a['peak_pss_mb']:.0f} -> "
                f"{b['peak_pss_mb']:.0f} MB (pipeline {a['pipeline_pss_mb']:.0f} -> {b['pipeline_pss_mb']:.0f} MB)."
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[300, 2913],
        help="train+val images per data set (2913: VOC2012's 1464 + 1449 segmentation images)",
    )
    parser.add_argument(
        "--baseline-sizes",
        type=int,
        nargs="*",
        help="sizes at which the preloading baseline runs (default: all; at 2913 images it holds about 9 GB)",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="runs per (size, pipeline); medians are reported")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers, for both pipelines")
    parser.add_argument("--data", type=Path, default=HERE.parent / "data" / "bench_voc")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--run", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--voc-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run:  # child: one measured run
        sys.path.insert(0, str(HERE.parent / "src"))
        print(json.dumps(run_variant(args.run, args.voc_dir, args.batch_size, args.workers, args.epochs)))
        return

    trees = prepare_data(args.data, args.sizes)
    load_before = os.getloadavg()[0]
    runs = []
    for repeat in range(args.repeats):  # interleaved, so a busy spell on the machine hits every pipeline
        for size in sorted(args.sizes):
            for variant in VARIANTS:
                if variant == "preload" and args.baseline_sizes is not None and size not in args.baseline_sizes:
                    continue
                print(f"run {repeat + 1}/{args.repeats}: {size} images, {variant} ...", flush=True)
                r = measure(variant, trees[size], args)
                r.update(size=size, repeat=repeat)
                runs.append(r)
                print(f"  {r['images_per_s']:.1f} img/s, peak PSS {r['peak_pss_mb']:.0f} MB", flush=True)
    results = summarise(runs)

    import torch

    setting = (
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"batch {args.batch_size}, crop {CROP[0]}x{CROP[1]}, {args.workers} DataLoader workers for both, "
        f"{args.epochs} epochs over the train split, OMP_NUM_THREADS=1; the machine is shared: load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after the runs, and other jobs come and go, so "
        "single timings vary up to 2x (see the ranges); compare medians and the memory columns"
    )
    report = "\n".join(
        [
            "# VOC segmentation data pipeline: streaming data module vs d2l's preloading dataset",
            "",
            f"`python experiments/bench_voc_pipeline.py --sizes {' '.join(map(str, args.sizes))} --epochs {args.epochs} "
            f"--repeats {args.repeats}"
            + ("" if args.baseline_sizes is None else f" --baseline-sizes {' '.join(map(str, args.baseline_sizes))}")
            + "` "
            f"on {setting}.",
            "",
            "Data: generated VOC-format sets (`litvision.data.synth.voc`, JPEG images of about 500x375, palette PNG "
            "labels), half train, half val; both pipelines build the train and val sets and iterate the train loader. "
            "'build' is the time to construct the data sets (d2l decodes and normalises everything there; the data "
            "module validates every file), 'first batch' includes it, 'total' is build plus all epochs; 'steady' is "
            "epochs 2 onwards (its range over the repeats in brackets). Timings are medians over the repeats, memory the "
            "largest of them. Peak PSS is sampled every 20 ms over the process and its workers; 'pipeline PSS' is that "
            "peak minus the process's PSS after importing torch, torchvision and lightning. The preloading pipeline "
            "holds every image as normalised float32 at full size plus two 128 MB colour lookup tables (one per split); "
            "the streaming one holds the batches in flight (2 workers x prefetch 2, about 15 MB of uint8 images and 5 MB of uint8 masks per batch), "
            "whatever the size of the data set. The data module delivers uint8 batches (images and masks) through "
            "torch's default_collate; the net normalises them on its device ('stream'). "
            "'stream_cpu_norm' also runs that normalisation in the consuming process, as a CPU training run pays it.",
            "",
            table(results),
            "",
            *verdict(results),
            "",
        ]
    )
    print()
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "voc_pipeline.md").write_text(report)
    (args.out / "voc_pipeline.json").write_text(
        json.dumps({"setting": setting, "results": results, "runs": runs}, indent=2)
    )


if __name__ == "__main__":
    main()
