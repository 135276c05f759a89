"""The offline content photographs for fast style transfer: the real photographs of scikit-image and
scikit-learn, plus opencv-doc's sample photographs when that Debian package is installed, exported once
(atomically, keyed by its settings) as image files into `root/train/<source>/` and `root/heldout/<source>/`.
The held-out photographs are never trained on; they are what validation and
experiments/fast_vs_optimisation.py stylise.

`litvision-synth content_photos --out data/content_photos` writes it by hand.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from PIL import Image

from litvision.data.core.images import OPENCV_DOC_DATA
from litvision.data.core.prepare import prepare_dir
from litvision.data.synth.photos import PHOTOS, SKLEARN_PHOTOS, load_photo

log = logging.getLogger(__name__)

# opencv-doc's colour photographs (examples/data), one of each stereo / sequence pair; its drawings,
# renders, charts, calibration boards and the painting starry_night are left out.
OPENCV_DOC_PHOTOS = (
    "aero1",
    "aloeL",
    "apple",
    "baboon",
    "board",
    "building",
    "butterfly",
    "chicky_512",
    "ela_original",
    "fruits",
    "graf1",
    "home",
    "left",
    "leuvenA",
    "licenseplate_motion",
    "messi5",
    "orange",
    "rubberwhale1",
    "smarties",
    "squirrel_cls",
    "stuff",
)
# never trained on: chelsea is also the optimisation experiment's (style_transfer_effnet) content image
HELDOUT = ("skimage/chelsea", "skimage/astronaut", "opencv-doc/squirrel_cls", "opencv-doc/building")


def _opencv_doc_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    by_stem = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png")}
    return {name: by_stem[name] for name in OPENCV_DOC_PHOTOS if name in by_stem}


def export_content_photos(
    root: str | Path, opencv_doc_dir: str | Path = OPENCV_DOC_DATA, max_side: int | None = None
) -> Path:
    """Write root/{train,heldout}/{skimage,sklearn,opencv-doc}/<name>.{png,jpg}: the Python packages'
    photographs as PNG, opencv-doc's as the files it ships; `max_side` shrinks every photo to at most
    that many pixels a side (small test sets). Atomic (litvision.data.core.prepare); a `root` exported with
    another `max_side` or other opencv-doc photographs is refused, never silently used."""
    root = Path(root)
    opencv_files = _opencv_doc_files(Path(opencv_doc_dir))
    counts = {"train": 0, "heldout": 0}

    def shrunk(image: Image.Image) -> Image.Image:
        if max_side is not None:
            image.thumbnail((max_side, max_side))
        return image

    def write(work: Path) -> None:
        def place(source: str, name: str) -> Path:
            split = "heldout" if f"{source}/{name}" in HELDOUT else "train"
            counts[split] += 1
            folder = work / split / source
            folder.mkdir(parents=True, exist_ok=True)
            return folder

        for name in PHOTOS:
            source = "sklearn" if name in SKLEARN_PHOTOS else "skimage"
            shrunk(Image.fromarray(load_photo(name))).save(place(source, name) / f"{name}.png")
        for name, path in opencv_files.items():
            target = place("opencv-doc", name) / path.name
            if max_side is None:
                shutil.copyfile(path, target)
            else:
                with Image.open(path) as image:
                    shrunk(image.convert("RGB")).save(target)
        if not opencv_files:
            log.warning(
                "opencv-doc is not installed (%s): the content photographs are scikit-image's and scikit-learn's "
                "only (apt-get install opencv-doc adds %d more; delete %s to export again)",
                opencv_doc_dir,
                len(OPENCV_DOC_PHOTOS),
                root,
            )
        log.info("content photographs in %s: %d to train on, %d held out", root, counts["train"], counts["heldout"])

    settings = {"max_side": max_side, "opencv_doc_photos": sorted(opencv_files)}
    return prepare_dir(root, write, what="the offline content photographs", settings=settings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to create (must not exist)")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists already; choose a new folder")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    export_content_photos(args.out)
