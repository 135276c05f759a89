"""Detection decoding with the options a trained detector needs (the textbook `multibox_detection` keeps
the behaviour of Dive into Deep Learning, ch. 13.4): per-class NMS, a score threshold and top-k before
NMS, a maximum number of detections per image, boxes clipped to the image. Offset decoding and NMS are
the textbook function's own (`decode_offsets`, `nms_keep_mask` in litvision.ops.anchors). The output is
what torchmetrics.detection.MeanAveragePrecision takes."""

from __future__ import annotations

import torch
from torch import Tensor

from litvision.ops.anchors import decode_offsets, nms_keep_mask


def decode_detections(
    cls_probs: Tensor,
    offset_preds: Tensor,
    anchors: Tensor,
    *,
    score_threshold: float = 0.01,
    nms_threshold: float = 0.45,
    top_k: int = 400,
    max_detections: int = 100,
    class_agnostic: bool = False,
    clip: bool = True,
) -> list[dict[str, Tensor]]:
    """Detections per image from class probabilities (B, C+1, A) (background first), offsets (B, A*4)
    and anchors (1, A, 4) or (A, 4).

    Every (anchor, class) pair scoring above `score_threshold` is a candidate (with `class_agnostic`,
    only each anchor's best class); the `top_k` best candidates of each image go through NMS, per class
    unless `class_agnostic`; the best `max_detections` survivors are returned, by decreasing score.
    Returns one dict per image: boxes (N, 4) normalised corners, scores (N,), labels (N,) int64 class
    ids starting at 0."""
    batch, _, num_anchors = cls_probs.shape
    boxes = decode_offsets(anchors, offset_preds)
    if clip:
        boxes = boxes.clamp(0.0, 1.0)
    scores = cls_probs[:, 1:]  # (B, C, A)
    if class_agnostic:
        scores, labels = scores.max(dim=1, keepdim=True)  # (B, 1, A)
    flat = scores.reshape(batch, -1)  # index = class * A + anchor
    k = min(top_k, flat.shape[1])
    top_scores, top_idx = flat.topk(k, dim=1)  # sorted, best first
    anchor_idx = top_idx % num_anchors
    group = top_idx.div(num_anchors, rounding_mode="floor")
    cand_labels = labels.squeeze(1).gather(1, anchor_idx) if class_agnostic else group
    cand_boxes = boxes.gather(1, anchor_idx.unsqueeze(-1).expand(-1, -1, 4))
    rank = torch.arange(k, device=boxes.device).expand(batch, k)  # topk's order is the score order
    kept = nms_keep_mask(
        cand_boxes, rank, nms_threshold, groups=None if class_agnostic else group, valid=top_scores > score_threshold
    )
    detections = []
    for image in range(batch):
        slots = kept[image].nonzero().squeeze(1)[:max_detections]
        detections.append(
            {
                "boxes": cand_boxes[image, slots],
                "scores": top_scores[image, slots],
                "labels": cand_labels[image, slots].long(),
            }
        )
    return detections
