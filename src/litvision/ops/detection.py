"""Detection decoding with the options a trained detector needs (the textbook `multibox_detection` keeps
the seeds' behaviour): per-class NMS, a score threshold and top-k before NMS, a maximum number of
detections per image, boxes clipped to the image. The output is what
torchmetrics.detection.MeanAveragePrecision takes."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from litvision.ops.anchors import offset_inverse


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
    anchors = anchors.reshape(-1, 4)
    batch, num_classes_bg, num_anchors = cls_probs.shape
    boxes = offset_inverse(anchors, offset_preds.reshape(batch, num_anchors, 4))
    if clip:
        boxes = boxes.clamp(0.0, 1.0)
    scores = cls_probs[:, 1:]  # (B, C, A)
    if class_agnostic:
        scores, labels = scores.max(dim=1, keepdim=True)  # (B, 1, A)
    num_groups = scores.shape[1]
    flat = scores.reshape(batch, -1)  # index = class * A + anchor
    k = min(top_k, flat.shape[1])
    top_scores, top_idx = flat.topk(k, dim=1)  # sorted, best first
    anchor_idx = top_idx % num_anchors
    group = top_idx.div(num_anchors, rounding_mode="floor")
    cand_labels = labels.squeeze(1).gather(1, anchor_idx) if class_agnostic else group
    cand_boxes = boxes.gather(1, anchor_idx.unsqueeze(-1).expand(-1, -1, 4))

    keep = top_scores > score_threshold
    image = torch.arange(batch, device=boxes.device).unsqueeze(1).expand(-1, k)
    b_idx, c_idx = keep.nonzero(as_tuple=True)
    nms_boxes = cand_boxes[b_idx, c_idx]
    # batched_nms separates groups by offsetting coordinates, which assumes they are non-negative
    nms_boxes = nms_boxes - nms_boxes.min().clamp(max=0) if nms_boxes.numel() else nms_boxes
    group_ids = (image * num_groups + group)[b_idx, c_idx]
    kept = batched_nms(nms_boxes, top_scores[b_idx, c_idx], group_ids, nms_threshold)
    kept_image, kept_slot = b_idx[kept], c_idx[kept]
    # kept is ordered by score over the whole batch; a stable sort by image keeps that order per image
    order = torch.sort(kept_image, stable=True).indices
    kept_image, kept_slot = kept_image[order], kept_slot[order]
    counts = torch.bincount(kept_image, minlength=batch).tolist()
    detections = []
    for slots, image_id in zip(kept_slot.split(counts), range(batch)):
        slots = slots[:max_detections]
        detections.append(
            {
                "boxes": cand_boxes[image_id, slots],
                "scores": top_scores[image_id, slots],
                "labels": cand_labels[image_id, slots].long(),
            }
        )
    return detections
