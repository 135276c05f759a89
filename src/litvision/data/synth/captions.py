"""Write a captioning data set offline, from real photographs, in both on-disk layouts litvision reads
(`data=caption_synth`, `data=coco_captioning_synth`):

    <out>/train2014/COCO_train2014_<id>.jpg, <out>/val2014/COCO_val2014_<id>.jpg
    <out>/annotations/captions_train2014.json, captions_val2014.json      COCO's caption files
    <out>/dataset_coco.json                                               Karpathy's split file
    <out>/scenes.json                                                     image path -> its scene
    <out>/coco_captioning/                                                cs231n assignment 3's layout:
        coco2014_captions.h5, coco2014_vocab.json, {train,val}2014_urls.txt (file:// URLs),
        {train,val}2014_vgg16_fc7.h5 (EfficientNet-Lite0 pooled features, despite the layout's name)
        and _pca.h5 (PCA fitted on train, scikit-learn), {train,val}2014_scenes.json

Scenes and captions come from litvision.data.synth.scenes. Karpathy's train images are train2014;
val2014 holds the val, test and restval images. The cs231n files use the Karpathy train split as
train2014 and val + test as val2014 (restval is left out there, as cs231n has no such split). The
extractor is named in the feature files' "extractor" attribute; the pooled features are written into
the image layout's feature cache too, so the experiments do not compute them again.

    litvision-synth captions --out data/caption_synth --train 1500 --val 200 --test 200
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.captions.cs231n import CAPTIONS_FILE, FOLDER, VOCAB_FILE, feature_file
from litvision.data.captions.features import cache_path, cached_features
from litvision.data.captions.vocabulary import Vocabulary, tokenize
from litvision.data.core.prepare import prepare_dir
from litvision.data.synth.scenes import render_scene, sample_scene, scene_captions
from litvision.nets.caption_encoder import encoder_description

DEFAULT_FEATURES = {"backbone": "efficientnet_lite0", "layer": "head", "kind": "pooled", "image_size": 128}


def _write_images(out: Path, splits: dict[str, int], image_size: int, captions_per_image: int, seed: int) -> list[dict]:
    """Render every image; returns per image {split, folder, filename, id, scene, captions}."""
    records = []
    next_id = 1
    for split, count in splits.items():
        folder = "train2014" if split == "train" else "val2014"
        (out / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng([seed, list(splits).index(split), i])
            scene = sample_scene(rng)
            image, objects = render_scene(scene, image_size, rng)
            filename = f"COCO_{folder}_{next_id:012d}.jpg"
            Image.fromarray(image).save(out / folder / filename, quality=90)
            records.append(
                {
                    "split": split,
                    "folder": folder,
                    "filename": filename,
                    "id": next_id,
                    "scene": {**scene, "objects": objects},
                    "captions": scene_captions(scene, rng, captions_per_image),
                }
            )
            next_id += 1
    return records


def _write_coco(out: Path, records: list[dict], image_size: int) -> None:
    (out / "annotations").mkdir(exist_ok=True)
    ann_id = 1
    for folder in ("train2014", "val2014"):
        images, annotations = [], []
        for r in (r for r in records if r["folder"] == folder):
            images.append({"id": r["id"], "file_name": r["filename"], "height": image_size, "width": image_size})
            for caption in r["captions"]:
                annotations.append({"id": ann_id, "image_id": r["id"], "caption": caption.capitalize() + "."})
                ann_id += 1
        info = {"description": "litvision generated captions (scenes from real photographs)"}
        data = {"info": info, "images": images, "annotations": annotations}
        (out / "annotations" / f"captions_{folder}.json").write_text(json.dumps(data))


def _write_karpathy(out: Path, records: list[dict]) -> None:
    images, sent_id = [], 0
    for img_id, r in enumerate(records):
        sentences = []
        for caption in r["captions"]:
            sentences.append({"tokens": tokenize(caption), "raw": caption, "imgid": img_id, "sentid": sent_id})
            sent_id += 1
        images.append(
            {
                "filepath": r["folder"],
                "filename": r["filename"],
                "imgid": img_id,
                "split": r["split"],
                "cocoid": r["id"],
                "sentids": [s["sentid"] for s in sentences],
                "sentences": sentences,
            }
        )
    (out / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))
    (out / "scenes.json").write_text(json.dumps({f"{r['folder']}/{r['filename']}": r["scene"] for r in records}))


def _write_cs231n(
    out: Path, final_root: Path, records: list[dict], features: dict[str, np.ndarray], encoder: dict, pca_dim: int
) -> None:
    import h5py
    from sklearn.decomposition import PCA

    target = out / FOLDER
    target.mkdir()
    parts = {"train": ["train"], "val": ["val", "test"]}
    train_words = [tokenize(c) for r in records if r["split"] == "train" for c in r["captions"]]
    vocab = Vocabulary.from_captions(train_words)
    (target / VOCAB_FILE).write_text(json.dumps(vocab.to_json()))
    dim = min(pca_dim, len(features["train"]), features["train"].shape[1])
    pca = PCA(n_components=dim, random_state=0).fit(features["train"])
    extractor = json.dumps(encoder)
    with h5py.File(target / CAPTIONS_FILE, "w") as captions_h5:
        for split, sources in parts.items():
            chosen = [r for r in records if r["split"] in sources]
            rows = np.concatenate([features[s] for s in sources])
            words = [tokenize(c) for r in chosen for c in r["captions"]]
            encoded, _ = vocab.encode_all(words, max_words=15)
            owner = np.repeat(np.arange(len(chosen)), [len(r["captions"]) for r in chosen])
            captions_h5.create_dataset(f"{split}_captions", data=encoded.astype(np.int32))
            captions_h5.create_dataset(f"{split}_image_idxs", data=owner.astype(np.int32))
            for use_pca in (False, True):
                with h5py.File(feature_file(target, split, use_pca), "w") as f:
                    f.create_dataset("features", data=pca.transform(rows).astype(np.float32) if use_pca else rows)
                    f.attrs["extractor"] = extractor
                    if use_pca:
                        f.attrs["pca"] = f"scikit-learn PCA to {dim} dimensions, fitted on train2014"
                        f.create_dataset("pca_mean", data=pca.mean_.astype(np.float32))
                        f.create_dataset("pca_components", data=pca.components_.astype(np.float32))
            urls = [(final_root / r["folder"] / r["filename"]).resolve().as_uri() for r in chosen]
            (target / f"{split}2014_urls.txt").write_text("".join(u + "\n" for u in urls))
            (target / f"{split}2014_scenes.json").write_text(json.dumps([r["scene"] for r in chosen]))


def generate_captions(
    root: str | Path,
    num_train: int = 1500,
    num_val: int = 200,
    num_test: int = 200,
    num_restval: int = 0,
    image_size: int = 128,
    captions_per_image: int = 5,
    cs231n: bool = True,
    features: Mapping | None = None,
    pca_dim: int = 512,
    seed: int = 0,
) -> Path:
    """Write the data set into `root`, atomically (litvision.data.core.prepare: built in a unique work folder
    beside `root`, completion marker last, one rename, under a file lock; a `root` already complete is
    left as it is). `features` are CaptionEncoder arguments for the pooled features of the cs231n
    layout (and the image layout's cache)."""
    root = Path(root)
    encoder = encoder_description(**{**DEFAULT_FEATURES, **(features or {})})
    settings = {"num_train": num_train, "num_val": num_val, "num_test": num_test, "num_restval": num_restval}
    settings |= {"image_size": image_size, "captions_per_image": captions_per_image, "cs231n": cs231n}
    settings |= {"features": encoder, "pca_dim": pca_dim, "seed": seed}
    splits = {"train": num_train, "val": num_val, "test": num_test, "restval": num_restval}

    def write(work: Path) -> None:
        records = _write_images(work, splits, image_size, captions_per_image, seed)
        _write_coco(work, records, image_size)
        _write_karpathy(work, records)
        if cs231n:
            rows = {}
            for split, members in (("train", ("train", "restval")), ("val", ("val",)), ("test", ("test",))):
                # Karpathy's splits in the order its reader lists them, so its feature cache is filled too
                chosen = [r for r in records if r["split"] in members]
                paths = [work / r["folder"] / r["filename"] for r in chosen]
                rows[split] = cached_features(paths, cache_path(work, f"karpathy-{split}", encoder), encoder).numpy()
            rows["train"] = rows["train"][:num_train]  # cs231n's train2014 leaves restval out
            _write_cs231n(work, root, records, rows, encoder, pca_dim)

    return prepare_dir(root, write, what="generated caption data", settings=settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="a new folder; use it as data.root")
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--restval", type=int, default=0, help="extra val2014 images that Karpathy's split trains on")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--captions", type=int, default=5, help="reference captions per image")
    parser.add_argument("--no-cs231n", action="store_true", help="skip the cs231n layout (no features computed)")
    parser.add_argument("--feature-size", type=int, default=128, help="image size the backbone reads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = generate_captions(
        args.out,
        args.train,
        args.val,
        args.test,
        args.restval,
        args.size,
        args.captions,
        not args.no_cs231n,
        {"image_size": args.feature_size},
        seed=args.seed,
    )
    print(f"wrote {args.train} + {args.val} + {args.test} (+ {args.restval} restval) images to {root}")
