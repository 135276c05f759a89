"""Box geometry the detection tasks share: normalised corners to pixels, banana-format targets to
torchvision's per-image dicts, and detections in the model input mapped back to the image file's pixels.

Detections and targets are torchvision's format: one dict per image with `boxes` (N, 4) float xyxy
pixels, `labels` (N,) int64 and, when there are any, `scores` (N,) and `masks` (N, H, W) bool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def pixel_scale(height: int, width: int, device: torch.device | str | None = None) -> Tensor:
    """[width, height, width, height]: normalised xyxy corners times this are pixels."""
    return torch.tensor([width, height, width, height], dtype=torch.float32, device=device)


def banana_targets(targets: Tensor, height: int, width: int) -> list[dict[str, Tensor]]:
    """Banana-format targets (B, M, 5), rows [class, x1, y1, x2, y2] normalised and padded with class -1,
    -> per image {"boxes" (N, 4) float32 pixels, "labels" (N,) int64 from 0}; padding rows dropped."""
    scale = pixel_scale(height, width, targets.device)
    out = []
    for rows in targets:
        rows = rows[rows[:, 0] >= 0]
        out.append({"boxes": rows[:, 1:].float() * scale, "labels": rows[:, 0].long()})
    return out


def boxes_to_file(boxes: Tensor, frame: Tensor, image_size: Sequence[int]) -> Tensor:
    """Boxes in model-input pixels -> pixels of the image file whose frame (x1, y1, x2, y2) lies at `frame`
    in the input (where the predict transform put it); clipped to the file."""
    height, width = image_size
    origin = frame[:2].repeat(2).to(boxes.dtype)
    frame_size = (frame[2:] - frame[:2]).repeat(2).to(boxes.dtype)
    limits = torch.tensor([width, height, width, height], dtype=boxes.dtype)
    return torch.minimum(((boxes - origin) / frame_size * limits).clamp(min=0), limits)


def detections_to_file(found: dict[str, Tensor], input_size: Sequence[int], meta: Mapping[str, Any]) -> dict:
    """Detections (cpu) in model-input pixels -> the file's pixels, boxes and masks: `meta` has the file's
    "height" and "width" and optionally "frame", the file's (x1, y1, x2, y2) in the input (default: all of
    it). Returned unchanged when the file is the input."""
    in_h, in_w = input_size
    height, width = int(meta.get("height", in_h)), int(meta.get("width", in_w))
    frame = torch.as_tensor(meta.get("frame", [0, 0, in_w, in_h]), dtype=torch.float32).cpu()
    if frame.tolist() == [0, 0, in_w, in_h] and (height, width) == (in_h, in_w):
        return found
    out = {**found, "boxes": boxes_to_file(found["boxes"].float(), frame, (height, width))}
    if "masks" in found:
        x1, y1 = (int(v) for v in frame[:2].floor().clamp(min=0).tolist())
        x2, y2 = int(frame[2].ceil().clamp(max=in_w)), int(frame[3].ceil().clamp(max=in_h))
        inside = found["masks"][:, y1:y2, x1:x2].float()
        if len(inside):
            out["masks"] = F.interpolate(inside[:, None], size=(height, width), mode="nearest")[:, 0] > 0.5
        else:
            out["masks"] = torch.zeros((0, height, width), dtype=torch.bool)
    return out
