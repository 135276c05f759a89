"""Writing COCO's formats: the instances JSON of a data set (`images`, `annotations`, `categories`) and
the pieces the results format shares with it (bbox [x, y, w, h], segmentation as RLE through
pycocotools, or as polygons)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils


def xywh(box: Sequence[float]) -> list[float]:
    """[x1, y1, x2, y2] -> COCO's [x, y, width, height]."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def mask_to_rle(mask: np.ndarray) -> dict:
    """(H, W) mask -> COCO compressed RLE {"size": [H, W], "counts": str} (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _string_counts(counts: str) -> list[int] | None:
    """The run lengths of a compressed RLE string (pycocotools' maskApi.c rleFrString: 6-bit groups from
    '0', sign bit 0x10, continuation 0x20, runs after the second as deltas); None when it is not one."""
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts) or not 48 <= ord(counts[pos]) < 48 + 64:
                return None
            group = ord(counts[pos]) - 48
            value |= (group & 0x1F) << shift
            more, pos, shift = bool(group & 0x20), pos + 1, shift + 5
            if not more and group & 0x10:
                value |= -1 << shift
        runs.append(value + runs[-2] if len(runs) > 2 else value)
    return runs


def rle_problem(rle: dict) -> str | None:
    """What makes an RLE segmentation {"size": [H, W], "counts"} undecodable, or None: its runs must be
    non-negative and cover exactly H*W pixels (pycocotools does not check; a bad string reads garbage)."""
    height, width = rle["size"]
    counts = rle.get("counts")
    if isinstance(counts, str):
        runs = _string_counts(counts)
        if runs is None:
            return f"RLE counts {counts[:20]!r} is not a compressed RLE string"
    elif isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        runs = counts
    else:
        return "RLE counts must be a compressed string or a list of whole numbers"
    if any(r < 0 for r in runs):
        return f"RLE counts hold a negative run ({min(runs)})"
    if sum(runs) != height * width:
        return f"RLE counts cover {sum(runs)} pixels with {len(runs)} runs, not the image's {height}x{width}"
    return None


def mask_to_polygons(mask: np.ndarray, tolerance: float = 0.5) -> list[list[float]]:
    """(H, W) mask -> COCO polygons [[x1, y1, x2, y2, ...], ...] along the outer outlines of its pixels
    (scikit-image's contours at 0.5, simplified by `tolerance` pixels); pieces with fewer than 3 points
    are left out. Holes are lost: polygons are approximate, RLE is exact."""
    from skimage.measure import approximate_polygon, find_contours

    padded = np.pad(np.asarray(mask, dtype=np.uint8), 1)
    polygons = []
    for contour in find_contours(padded, 0.5):
        contour = approximate_polygon(contour, tolerance) - 1  # undo the padding; (row, col) pairs
        if len(contour) > 3:  # closed: the last point repeats the first
            polygons.append([round(float(v), 2) for point in contour[:-1, ::-1] + 0.5 for v in point])
    return polygons


def instance_annotation(
    ann_id: int,
    image_id: int,
    category_id: int,
    box: Sequence[float],
    mask: np.ndarray | None = None,
    segmentation: str = "rle",
) -> dict:
    """One COCO annotation: `box` [x1, y1, x2, y2] pixels, `mask` (H, W) or None for boxes only;
    `segmentation` "rle" or "polygon". Area is the mask's pixel count (or the box's)."""
    bbox = xywh(box)
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id, "bbox": bbox, "iscrowd": 0}
    if mask is None:
        ann["area"] = bbox[2] * bbox[3]
        return ann
    if segmentation not in ("rle", "polygon"):
        raise ValueError(f"segmentation must be 'rle' or 'polygon', got {segmentation!r}")
    ann["area"] = int(np.count_nonzero(mask))
    ann["segmentation"] = mask_to_rle(mask) if segmentation == "rle" else mask_to_polygons(mask)
    return ann


def write_json(path: str | Path, content: object) -> Path:
    """Write JSON atomically (a temporary file renamed into place): an interrupted write leaves no
    truncated file that looks complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content) + "\n")
    os.replace(partial, path)
    return path


def write_instances_json(
    path: str | Path, images: list[dict], annotations: list[dict], categories: Sequence[str]
) -> Path:
    """A COCO instances file; category ids are 1..K in the order of `categories` (names)."""
    content = {
        "info": {"description": "written by litvision"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(categories)],
    }
    return write_json(path, content)
