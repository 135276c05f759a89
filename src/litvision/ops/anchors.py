"""Anchor boxes, IoU, anchor labelling and NMS decoding: the textbook-compatible API.

Same shapes and semantics as Dive into Deep Learning, ch. 13.4 (d2l), with its bugs fixed (offset
precedence, integer anchor index, padding rows ignored) and vectorised over the batch: the only Python
loops are over ground-truth box slots (IoU and the greedy assignment) and the per-image calls of
torchvision's NMS kernel (see `nms_keep_mask`).

Boxes are (x1, y1, x2, y2) corners normalised to [0, 1] unless said otherwise. Class ids in `labels`
start at 0; -1 marks padding rows. In the outputs of `multibox_target` class 0 is background.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.ops import box_convert, nms
from torchvision.ops import box_iou as _tv_box_iou

# Offset encoding (d2l): centres scaled by 1 / sigma_xy, log sizes by 1 / sigma_wh, means 0.
XY_SCALE = 10.0  # 1 / 0.1
WH_SCALE = 5.0  # 1 / 0.2

__all__ = [
    "XY_SCALE",
    "WH_SCALE",
    "multibox_prior",
    "box_iou",
    "box_corner_to_center",
    "box_center_to_corner",
    "offset_boxes",
    "offset_inverse",
    "decode_offsets",
    "nms_keep_mask",
    "assign_anchor_to_bbox",
    "multibox_target",
    "multibox_detection",
]


def multibox_prior(data: Tensor, sizes: Sequence[float], ratios: Sequence[float]) -> Tensor:
    """Anchors centred on every pixel of the feature map `data` (..., H, W): for each pixel the
    (size, ratio) pairs (s_1, r_1..r_m) and (s_2..s_n, r_1), i.e. n + m - 1 anchors, ordered pixel by
    pixel (row-major) and within a pixel in that order. Returns (1, H*W*(n+m-1), 4) corners in
    image-normalised units (they may extend past [0, 1] at the border)."""
    in_height, in_width = data.shape[-2:]
    device = data.device
    size_tensor = torch.tensor(sizes, dtype=torch.float32, device=device)
    ratio_tensor = torch.tensor(ratios, dtype=torch.float32, device=device)
    boxes_per_pixel = len(sizes) + len(ratios) - 1

    center_h = (torch.arange(in_height, device=device, dtype=torch.float32) + 0.5) / in_height
    center_w = (torch.arange(in_width, device=device, dtype=torch.float32) + 0.5) / in_width
    shift_y, shift_x = torch.meshgrid(center_h, center_w, indexing="ij")
    shift_y, shift_x = shift_y.reshape(-1), shift_x.reshape(-1)

    # widths are scaled by H/W so that a ratio-1 anchor is square in pixels on a non-square image
    w = torch.cat((size_tensor * torch.sqrt(ratio_tensor[0]), size_tensor[0] * torch.sqrt(ratio_tensor[1:])))
    w = w * in_height / in_width
    h = torch.cat((size_tensor / torch.sqrt(ratio_tensor[0]), size_tensor[0] / torch.sqrt(ratio_tensor[1:])))
    half_sizes = torch.stack((-w, -h, w, h)).T.repeat(in_height * in_width, 1) / 2
    centers = torch.stack([shift_x, shift_y, shift_x, shift_y], dim=1).repeat_interleave(boxes_per_pixel, dim=0)
    return (centers + half_sizes).unsqueeze(0)


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise IoU of (N, 4) and (M, 4) corner boxes -> (N, M)."""
    return _tv_box_iou(boxes1, boxes2)


def box_corner_to_center(boxes: Tensor) -> Tensor:
    """(..., 4) corners (x1, y1, x2, y2) -> (cx, cy, w, h)."""
    return box_convert(boxes, "xyxy", "cxcywh")


def box_center_to_corner(boxes: Tensor) -> Tensor:
    """(..., 4) (cx, cy, w, h) -> corners (x1, y1, x2, y2)."""
    return box_convert(boxes, "cxcywh", "xyxy")


def offset_boxes(anchors: Tensor, assigned_bb: Tensor, eps: float = 1e-6) -> Tensor:
    """Offsets of `assigned_bb` relative to `anchors` (both (..., 4) corners, broadcastable):
    (10 * (c_b - c_a) / wh_a, 5 * log(eps + wh_b / wh_a)) — d2l's encoding with the operator
    precedence fixed (the seed divides only c_a by wh_a)."""
    c_anc = box_corner_to_center(anchors)
    c_bb = box_corner_to_center(assigned_bb)
    offset_xy = XY_SCALE * (c_bb[..., :2] - c_anc[..., :2]) / c_anc[..., 2:]
    offset_wh = WH_SCALE * torch.log(eps + c_bb[..., 2:] / c_anc[..., 2:])
    return torch.cat([offset_xy, offset_wh], dim=-1)


def offset_inverse(anchors: Tensor, offset_preds: Tensor) -> Tensor:
    """Inverse of `offset_boxes`: anchors (..., 4) corners and offsets (..., 4) -> corner boxes."""
    anc = box_corner_to_center(anchors)
    offset_preds = offset_preds.to(anc.dtype)
    pred_xy = offset_preds[..., :2] * anc[..., 2:] / XY_SCALE + anc[..., :2]
    pred_wh = torch.exp(offset_preds[..., 2:] / WH_SCALE) * anc[..., 2:]
    return box_center_to_corner(torch.cat((pred_xy, pred_wh), dim=-1))


def decode_offsets(anchors: Tensor, offset_preds: Tensor) -> Tensor:
    """Every anchor's predicted box: anchors (1, A, 4) or (A, 4), offsets (B, A*4) -> (B, A, 4) corners.
    The one offset decoding of both decoders (`multibox_detection`, ops.detection.decode_detections)."""
    anchors = anchors.reshape(-1, 4)
    return offset_inverse(anchors, offset_preds.reshape(offset_preds.shape[0], anchors.shape[0], 4))


def _iou_boxes_vs_anchors(boxes: Tensor, anchors: Tensor) -> Tensor:
    """IoU of every box in (B, M, 4) with every anchor in (A, 4), laid out (M, B, A).

    Hand-written because torchvision's box_iou is 2-D only and its (N, M, 2) strided intermediates make
    it several times slower on batches. The arithmetic is torchvision's, step for step, so the values
    are bitwise equal to `box_iou(anchors, boxes[b]).T` (tested). One box slot at a time into reused
    (B, A) buffers, so the intermediates stay in cache; slot-major so each slot's result is contiguous."""
    batch, num_boxes = boxes.shape[:2]
    ax1, ay1, ax2, ay2 = anchors.T.contiguous().unbind(0)  # (A,) each
    area_a = (ax2 - ax1) * (ay2 - ay1)
    boxes = boxes.transpose(0, 1).unsqueeze(-1)  # (M, B, 4, 1): coordinates broadcast against anchors
    area_b = (boxes[:, :, 2] - boxes[:, :, 0]) * (boxes[:, :, 3] - boxes[:, :, 1])  # (M, B, 1)
    iou = torch.empty(num_boxes, batch, anchors.shape[0], dtype=anchors.dtype, device=anchors.device)
    height, scratch = (torch.empty(iou.shape[1:], dtype=iou.dtype, device=iou.device) for _ in range(2))
    for m in range(num_boxes):
        x1, y1, x2, y2 = boxes[m].unbind(1)  # (B, 1) each
        inter = torch.minimum(x2, ax2, out=iou[m]).sub_(torch.maximum(x1, ax1, out=scratch)).clamp_(min=0)
        torch.minimum(y2, ay2, out=height).sub_(torch.maximum(y1, ay1, out=scratch)).clamp_(min=0)
        inter.mul_(height)
        union = torch.add(area_a, area_b[m], out=scratch).sub_(inter)  # torchvision: area1 + area2 - inter
        inter.div_(union)
    return iou


def _assign_batched(iou: Tensor, valid: Tensor, iou_threshold: float) -> Tensor:
    """d2l's assignment on an (M, B, A) IoU tensor; `valid` (B, M) marks real boxes.

    1. every anchor whose best IoU is >= iou_threshold takes that box (the first, on ties);
    2. then, once per ground-truth box, greedily: the largest remaining IoU in the image (ties: lowest
       anchor index, then lowest box index, i.e. the first maximum of d2l's (A, M) matrix) assigns
       its box to its anchor, and that anchor and box are discarded.
    Loops over box slots only. Step 2 keeps the best remaining anchor of every box and recomputes it
    only for boxes whose best anchor was just taken. Mutates `iou`. Returns (B, A) box indices, -1 for
    background."""
    num_boxes, batch, num_anchors = iou.shape
    device = iou.device
    # images with nothing left to assign in step 2 write into a spare last column, dropped at the end
    anchor_map = torch.full((batch, num_anchors + 1), -1, dtype=torch.long, device=device)
    if batch == 0 or num_boxes == 0 or num_anchors == 0:
        return anchor_map[:, :num_anchors]
    invalid_m, invalid_b = (~valid).T.nonzero(as_tuple=True)
    iou[invalid_m, invalid_b] = -1.0  # padding: below any real IoU

    # step 1, only where some box reaches the threshold (few anchors): first maximum over the boxes
    b_idx, a_idx = (iou.amax(dim=0) >= iou_threshold).nonzero(as_tuple=True)
    anchor_map[b_idx, a_idx] = iou[:, b_idx, a_idx].T.max(dim=1).indices

    # step 2
    removed = -2.0  # below every IoU and below the -1 of discarded entries
    col_max, col_arg = (t.T.contiguous() for t in iou.max(dim=2))  # (B, M): each box's best anchor
    col_max.masked_fill_(~valid, removed)
    # an entry's index in d2l's row-major (A, M) matrix; the smallest among the maxima is its argmax
    entry = col_arg * num_boxes + torch.arange(num_boxes, device=device)
    no_entry = num_anchors * num_boxes
    rows = torch.arange(batch, device=device)
    for _ in range(int(valid.sum(dim=1).max())):
        best = col_max.amax(dim=1, keepdim=True)
        first = torch.where(col_max == best, entry, no_entry).amin(dim=1)
        anc, box = first.div(num_boxes, rounding_mode="floor"), first.remainder(num_boxes)
        anchor_map[rows, anc.masked_fill(best.squeeze(1) < 0, num_anchors)] = box
        col_max[rows, box] = removed
        iou[:, rows, anc] = -1.0
        stale = (col_arg == anc.unsqueeze(1)) & (col_max > removed)
        if stale.any():
            b_idx, m_idx = stale.nonzero(as_tuple=True)
            col_max[b_idx, m_idx], col_arg[b_idx, m_idx] = iou[m_idx, b_idx].max(dim=1)
            entry[b_idx, m_idx] = col_arg[b_idx, m_idx] * num_boxes + m_idx
    return anchor_map[:, :num_anchors]


def assign_anchor_to_bbox(
    ground_truth: Tensor,
    anchors: Tensor,
    device: torch.device | str | None = None,
    iou_threshold: float = 0.5,
    valid: Tensor | None = None,
) -> Tensor:
    """Index of the ground-truth box assigned to each anchor, -1 for background (d2l's algorithm).

    `ground_truth` is (M, 4) -> returns (A,), or (B, M, 4) -> (B, A); `anchors` is (A, 4) or (1, A, 4).
    `valid` (ground_truth's shape without the 4) marks real boxes; others (padding) are never
    assigned. `device` is accepted for textbook compatibility; results live on `anchors.device`."""
    anchors = anchors.reshape(-1, 4)
    single = ground_truth.dim() == 2
    boxes = ground_truth.unsqueeze(0) if single else ground_truth
    if valid is None:
        valid = torch.ones(boxes.shape[:2], dtype=torch.bool, device=anchors.device)
    elif single:
        valid = valid.unsqueeze(0)
    iou = _iou_boxes_vs_anchors(boxes.to(anchors), anchors)
    anchor_map = _assign_batched(iou, valid.to(anchors.device), iou_threshold).contiguous()
    return anchor_map[0] if single else anchor_map


def multibox_target(anchors: Tensor, labels: Tensor, iou_threshold: float = 0.5) -> tuple[Tensor, Tensor, Tensor]:
    """Training targets for every anchor of every image.

    anchors: (1, A, 4) or (A, 4); labels: (B, M, 5) rows [class, x1, y1, x2, y2], padded with class -1.
    Returns (bbox_offset (B, A*4), bbox_mask (B, A*4), class_labels (B, A)) where class_labels is 0 for
    background and class + 1 otherwise, offsets are zero for background anchors, and the mask is 1 on
    the four offsets of every assigned anchor."""
    anchors = anchors.reshape(-1, 4)
    batch, num_anchors = labels.shape[0], anchors.shape[0]
    labels = labels.to(anchors)
    valid = labels[..., 0] >= 0
    anchor_map = _assign_batched(_iou_boxes_vs_anchors(labels[..., 1:], anchors), valid, iou_threshold)

    # outputs are zero except at the few positive anchors, so only those are computed
    b_idx, a_idx = (anchor_map >= 0).nonzero(as_tuple=True)
    assigned = labels[b_idx, anchor_map[b_idx, a_idx]]  # (K, 5)
    class_labels = torch.zeros(batch, num_anchors, dtype=torch.long, device=anchors.device)
    class_labels[b_idx, a_idx] = assigned[:, 0].long() + 1
    bbox_mask = torch.zeros(batch, num_anchors, 4, dtype=anchors.dtype, device=anchors.device)
    bbox_mask[b_idx, a_idx] = 1.0
    bbox_offset = torch.zeros_like(bbox_mask)
    bbox_offset[b_idx, a_idx] = offset_boxes(anchors[a_idx], assigned[:, 1:])
    return bbox_offset.reshape(batch, -1), bbox_mask.reshape(batch, -1), class_labels


def nms_keep_mask(
    boxes: Tensor,
    order: Tensor,
    nms_threshold: float,
    groups: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """Greedy NMS in the order given, per image: boxes (B, N, 4), order (B, N) box indices by decreasing
    score. `groups` (B, N): boxes compete only within their group (per-class NMS); `valid` (B, N): the
    other boxes are neither kept nor suppress any. Returns a (B, N) bool mask of the boxes kept. The one
    NMS of both decoders (`multibox_detection`, ops.detection.decode_detections).

    One torchvision.ops.nms call per image and group: greedy NMS is sequential within an image, and a
    single call over the whole batch (batched_nms's coordinate offset trick) costs B times more on a CPU
    (the kernel scans every later box for each kept one), rounds shifted float32 coordinates differently
    (a batch could disagree with its images one by one) and assumes non-negative coordinates; above 1000
    boxes torchvision's batched_nms runs this same per-group loop itself. Strictly decreasing rank
    scores make the kernel follow `order` exactly, so equal scores cannot be reordered."""
    batch, num_boxes = order.shape
    ranked = boxes.gather(1, order.unsqueeze(-1).expand(-1, -1, 4))
    rank_scores = -torch.arange(num_boxes, dtype=boxes.dtype, device=boxes.device)
    ranked_valid = None if valid is None else valid.gather(1, order)
    ranked_groups = None if groups is None else groups.gather(1, order)
    keep_ranked = torch.zeros(batch, num_boxes, dtype=torch.bool, device=boxes.device)
    for image in range(batch):
        if ranked_valid is None:
            candidates = torch.arange(num_boxes, device=boxes.device)
        else:
            candidates = ranked_valid[image].nonzero().squeeze(1)
        if ranked_groups is None:
            members = [candidates]
        else:
            group_of = ranked_groups[image, candidates]
            members = [candidates[group_of == g] for g in group_of.unique()]
        for slots in members:  # rank positions, in order
            keep_ranked[image, slots[nms(ranked[image, slots], rank_scores[slots], nms_threshold)]] = True
    return torch.zeros_like(keep_ranked).scatter_(1, order, keep_ranked)


def multibox_detection(
    cls_probs: Tensor,
    offset_preds: Tensor,
    anchors: Tensor,
    nms_threshold: float = 0.5,
    pos_threshold: float = 0.009999999,
) -> Tensor:
    """Predicted boxes after class-agnostic NMS, d2l's way.

    cls_probs: (B, C+1, A) with background at index 0; offset_preds: (B, A*4); anchors: (1, A, 4) or
    (A, 4). Returns (B, A, 6) rows [class, confidence, x1, y1, x2, y2]: first the boxes NMS kept, by
    decreasing confidence (ties: lower anchor index first), then the suppressed ones by anchor index
    with class -1. Rows whose confidence is below `pos_threshold` get class -1 and confidence
    1 - confidence (d2l's convention)."""
    conf, class_id = cls_probs[:, 1:].max(dim=1)  # (B, A)
    boxes = decode_offsets(anchors, offset_preds)

    order = torch.sort(conf, dim=1, descending=True, stable=True).indices
    kept = nms_keep_mask(boxes, order, nms_threshold)

    # output position: kept anchors in score order, then the others in anchor order
    kept_ranked = kept.gather(1, order)
    rank_pos = kept_ranked.cumsum(dim=1) - 1
    position = torch.empty_like(order)
    position.scatter_(1, order, rank_pos)
    num_kept = kept.sum(dim=1, keepdim=True)
    position = torch.where(kept, position, num_kept + (~kept).cumsum(dim=1) - 1)

    class_out = torch.where(kept, class_id, -1).to(conf.dtype)
    below = conf < pos_threshold
    class_out = torch.where(below, -1.0, class_out)
    conf_out = torch.where(below, 1 - conf, conf)
    rows = torch.cat((class_out.unsqueeze(-1), conf_out.unsqueeze(-1), boxes), dim=-1)
    return torch.empty_like(rows).scatter_(1, position.unsqueeze(-1).expand(-1, -1, 6), rows)
