"""The SSD training loss of Dive into Deep Learning, ch. 13.7 (d2l): cross-entropy of every anchor's class
plus L1 on the offsets of the anchors that have an object, with optional hard-negative mining."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def multibox_loss(
    cls_preds: Tensor,
    bbox_preds: Tensor,
    cls_labels: Tensor,
    bbox_labels: Tensor,
    bbox_masks: Tensor,
    neg_pos_ratio: float | None = None,
) -> Tensor:
    """Per-image loss (B,): class loss + box loss.

    cls_preds: (B, A, C+1) logits; bbox_preds: (B, A*4); cls_labels (B, A), bbox_labels (B, A*4) and
    bbox_masks (B, A*4) as returned by `multibox_target`.

    Without `neg_pos_ratio` this is d2l's `calc_loss`: the class loss is the cross-entropy averaged
    over all anchors, the box loss the L1 of masked offsets averaged over all A*4 offsets. With it, the
    class loss is averaged over the positive anchors and the `neg_pos_ratio` times as many background
    anchors with the highest loss (at least `neg_pos_ratio` of them, so images without objects still
    teach background); the box loss is unchanged."""
    batch, num_anchors, num_classes = cls_preds.shape
    cls = F.cross_entropy(cls_preds.reshape(-1, num_classes), cls_labels.reshape(-1), reduction="none").reshape(
        batch, num_anchors
    )
    bbox = F.l1_loss(bbox_preds * bbox_masks, bbox_labels * bbox_masks, reduction="none").mean(dim=1)
    if neg_pos_ratio is None:
        return cls.mean(dim=1) + bbox

    positive = cls_labels > 0
    num_neg = (positive.sum(dim=1, keepdim=True).clamp(min=1) * neg_pos_ratio).long()
    # rank background anchors by their loss (hardest first); positives rank last
    neg_loss = cls.detach().masked_fill(positive, float("-inf"))
    rank = neg_loss.argsort(dim=1, descending=True).argsort(dim=1)
    selected = positive | (rank < num_neg)  # asking for more negatives than exist selects them all
    cls = (cls * selected).sum(dim=1) / selected.sum(dim=1).clamp(min=1)
    return cls + bbox
