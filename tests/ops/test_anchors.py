"""The textbook-compatible anchor API: the worked examples of Dive into Deep Learning, ch. 13.4 (d2l;
golden values), agreement with a per-image implementation of d2l's algorithms, and properties (padding,
empty images, batches)."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou as tv_box_iou

from litvision.ops.anchors import (
    _iou_boxes_vs_anchors,
    assign_anchor_to_bbox,
    box_center_to_corner,
    box_corner_to_center,
    box_iou,
    multibox_detection,
    multibox_prior,
    multibox_target,
    offset_boxes,
    offset_inverse,
)


# ------------------------------------------------------------------ d2l's algorithms, image by image
def textbook_assign(ground_truth, anchors, iou_threshold=0.5):
    num_anchors, num_gt = anchors.shape[0], ground_truth.shape[0]
    anchors_bbox_map = torch.full((num_anchors,), -1, dtype=torch.long)
    if num_gt == 0:
        return anchors_bbox_map
    jaccard = tv_box_iou(anchors, ground_truth)
    max_ious, indices = torch.max(jaccard, dim=1)
    anc_i = torch.nonzero(max_ious >= iou_threshold).reshape(-1)
    anchors_bbox_map[anc_i] = indices[max_ious >= iou_threshold]
    for _ in range(num_gt):
        max_idx = torch.argmax(jaccard)
        box_idx, anc_idx = max_idx % num_gt, max_idx // num_gt
        anchors_bbox_map[anc_idx] = box_idx
        jaccard[:, box_idx] = -1
        jaccard[anc_idx, :] = -1
    return anchors_bbox_map


def textbook_target(anchors, labels, iou_threshold=0.5):
    anchors = anchors.reshape(-1, 4)
    offsets, masks, classes = [], [], []
    for label in labels:
        label = label[label[:, 0] >= 0]
        amap = textbook_assign(label[:, 1:], anchors, iou_threshold)
        mask = (amap >= 0).float().unsqueeze(-1).repeat(1, 4)
        cls = torch.zeros(anchors.shape[0], dtype=torch.long)
        assigned = torch.zeros(anchors.shape[0], 4)
        idx = torch.nonzero(amap >= 0).reshape(-1)
        cls[idx] = label[amap[idx], 0].long() + 1
        assigned[idx] = label[amap[idx], 1:]
        offsets.append((offset_boxes(anchors, assigned) * mask).reshape(-1))
        masks.append(mask.reshape(-1))
        classes.append(cls)
    return torch.stack(offsets), torch.stack(masks), torch.stack(classes)


def textbook_nms(boxes, scores, threshold):
    order = torch.sort(scores, descending=True, stable=True).indices  # ties: lower index first
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        iou = tv_box_iou(boxes[i].reshape(-1, 4), boxes[order[1:]].reshape(-1, 4)).reshape(-1)
        order = order[1:][iou <= threshold]
    return torch.stack(keep)


def textbook_detection(cls_probs, offset_preds, anchors, nms_threshold=0.5, pos_threshold=0.009999999):
    anchors = anchors.reshape(-1, 4)
    out = []
    for cls_prob, offset_pred in zip(cls_probs, offset_preds):
        conf, class_id = torch.max(cls_prob[1:], 0)
        boxes = offset_inverse(anchors, offset_pred.reshape(-1, 4))
        keep = textbook_nms(boxes, conf, nms_threshold)
        uniques, counts = torch.cat((keep, torch.arange(anchors.shape[0]))).unique(return_counts=True)
        non_keep = uniques[counts == 1]
        order = torch.cat((keep, non_keep))
        class_id[non_keep] = -1
        class_id, conf, boxes = class_id[order], conf[order], boxes[order]
        below = conf < pos_threshold
        class_id[below] = -1
        conf[below] = 1 - conf[below]
        out.append(torch.cat((class_id.unsqueeze(1), conf.unsqueeze(1), boxes), dim=1))
    return torch.stack(out)


def small_anchor_set():
    """Anchors of a 6x6 and a 3x3 feature map (225 anchors): dense enough for reassignments."""
    return torch.cat(
        [
            multibox_prior(torch.zeros(1, 1, 6, 6), [0.3, 0.2], [1, 2, 0.5]),
            multibox_prior(torch.zeros(1, 1, 3, 3), [0.6, 0.45], [1, 2, 0.5]),
        ],
        dim=1,
    )


def random_labels(generator, batch, max_boxes, num_classes=3, duplicates=True):
    """(B, max_boxes, 5) with a random number of real boxes per image (0 included) at random slots,
    the rest padding with arbitrary coordinates; some real boxes duplicated (IoU ties)."""
    wh = torch.rand(batch, max_boxes, 2, generator=generator) * 0.5 + 0.05
    xy = torch.rand(batch, max_boxes, 2, generator=generator) * (1 - wh)
    cls = torch.randint(0, num_classes, (batch, max_boxes, 1), generator=generator).float()
    labels = torch.cat([cls, xy, xy + wh], dim=-1)
    if duplicates and max_boxes > 1:
        labels[0, 1, 1:] = labels[0, 0, 1:]
    padding = torch.rand(batch, max_boxes, generator=generator) < 0.3
    labels[..., 0][padding] = -1
    return labels


# ------------------------------------------------------------------ golden values from d2l
def test_multibox_prior_seed_example():
    anchors = multibox_prior(torch.zeros(1, 3, 561, 728), sizes=[0.75, 0.5, 0.25], ratios=[1, 2, 0.5])
    assert anchors.shape == (1, 2042040, 4)
    boxes = anchors.reshape(561, 728, 5, 4)[250, 250]
    expected = torch.tensor(
        [
            [0.06, 0.07, 0.63, 0.82],
            [0.15, 0.20, 0.54, 0.70],
            [0.25, 0.32, 0.44, 0.57],
            [-0.06, 0.18, 0.75, 0.71],
            [0.14, -0.08, 0.55, 0.98],
        ]
    )
    torch.testing.assert_close(boxes, expected, atol=0.005, rtol=0)
    # d2l's pixel values of the first three
    pixels = boxes[:3] * torch.tensor([728, 561, 728, 561])
    torch.testing.assert_close(pixels[0], torch.tensor([40.13, 40.12, 460.88, 460.87]), atol=0.01, rtol=0)


def test_multibox_prior_ratio_one_is_square_in_pixels():
    height, width = 30, 60
    anchors = multibox_prior(torch.zeros(height, width), sizes=[0.4], ratios=[1, 4])[0]
    w_px = (anchors[0, 2] - anchors[0, 0]) * width
    h_px = (anchors[0, 3] - anchors[0, 1]) * height
    assert w_px == pytest.approx(h_px)
    w4_px = (anchors[1, 2] - anchors[1, 0]) * width
    h4_px = (anchors[1, 3] - anchors[1, 1]) * height
    assert (w4_px / h4_px).item() == pytest.approx(4.0)
    centre = (anchors[0, :2] + anchors[0, 2:]) / 2
    torch.testing.assert_close(centre, torch.tensor([0.5 / width, 0.5 / height]))


def test_box_conversions_seed_example():
    boxes = torch.tensor([[60.0, 45.0, 378.0, 516.0], [400.0, 112.0, 655.0, 493.0]])
    centres = box_corner_to_center(boxes)
    torch.testing.assert_close(centres[0], torch.tensor([219.0, 280.5, 318.0, 471.0]))
    assert torch.equal(box_center_to_corner(centres), boxes)


def test_box_iou_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]])
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[1 / 7, 0.0, 1.0]]))


def test_offsets_use_fixed_precedence_and_invert():
    anchor = torch.tensor([[0.4, 0.4, 0.6, 0.6]])  # centre 0.5, size 0.2
    box = torch.tensor([[0.5, 0.4, 0.7, 0.8]])  # centre (0.6, 0.6), size (0.2, 0.4)
    offsets = offset_boxes(anchor, box)
    # 10 * (0.6 - 0.5) / 0.2 = 5 (the seed's precedence would give 10 * (0.6 - 0.5 / 0.2) = -19)
    torch.testing.assert_close(
        offsets, torch.tensor([[5.0, 5.0, 0.0, 5 * torch.log(torch.tensor(2.0)).item()]]), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(offset_inverse(anchor, offsets), box, atol=1e-5, rtol=0)


def test_multibox_target_seed_example_with_fixed_offsets():
    ground_truth = torch.tensor([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]])
    anchors = torch.tensor(
        [
            [0, 0.1, 0.2, 0.3],
            [0.15, 0.2, 0.4, 0.4],
            [0.63, 0.05, 0.88, 0.98],
            [0.66, 0.45, 0.8, 0.8],
            [0.57, 0.3, 0.92, 0.9],
        ]
    )
    offsets, mask, classes = multibox_target(anchors.unsqueeze(0), ground_truth.unsqueeze(0))
    assert torch.equal(classes, torch.tensor([[0, 1, 2, 0, 2]]))
    assert torch.equal(mask, torch.tensor([[0.0] * 4 + [1.0] * 8 + [0.0] * 4 + [1.0] * 4]))
    expected = torch.tensor(
        [[0, 0, 0, 0, 1.40, 10.00, 2.59, 7.18, -1.20, 0.27, 1.68, -1.57, 0, 0, 0, 0, -0.57, -1.00, 0.00, 0.63]]
    )
    torch.testing.assert_close(offsets, expected, atol=0.005, rtol=0)


def test_multibox_detection_seed_example():
    anchors = torch.tensor(
        [[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95], [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]]
    )
    offset_preds = torch.tensor([0] * anchors.numel())
    cls_probs = torch.tensor([[0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])
    output = multibox_detection(
        cls_probs.unsqueeze(0), offset_preds.unsqueeze(0), anchors.unsqueeze(0), nms_threshold=0.5
    )
    expected = torch.tensor(
        [
            [
                [0.0, 0.9, 0.10, 0.08, 0.52, 0.92],
                [1.0, 0.9, 0.55, 0.20, 0.90, 0.88],
                [-1.0, 0.8, 0.08, 0.20, 0.56, 0.95],
                [-1.0, 0.7, 0.15, 0.30, 0.62, 0.91],
            ]
        ]
    )
    assert output.shape == (1, 4, 6)
    torch.testing.assert_close(output, expected)


# ------------------------------------------------------------------ agreement with the per-image algorithm
def test_batched_iou_is_bitwise_torchvision():
    generator = torch.Generator().manual_seed(1)
    anchors = small_anchor_set()[0]
    boxes = random_labels(generator, 4, 5)[..., 1:]
    iou = _iou_boxes_vs_anchors(boxes, anchors)  # (M, B, A)
    for b in range(4):
        assert torch.equal(iou[:, b].T, tv_box_iou(anchors, boxes[b]))


@pytest.mark.parametrize("seed", range(8))
def test_multibox_target_matches_d2l_per_image_algorithm(seed):
    generator = torch.Generator().manual_seed(seed)
    anchors = small_anchor_set()
    labels = random_labels(generator, batch=6, max_boxes=7)
    threshold = [0.5, 0.3][seed % 2]
    ours = multibox_target(anchors, labels, iou_threshold=threshold)
    theirs = textbook_target(anchors, labels, iou_threshold=threshold)
    for a, b, name in zip(ours, theirs, ("offsets", "mask", "classes")):
        assert torch.equal(a, b), name


def test_greedy_step_gives_every_box_an_anchor():
    # small boxes reach IoU 0.5 with no anchor; the greedy step still assigns each one an anchor
    anchors = small_anchor_set()
    labels = torch.tensor([[[0, 0.1, 0.1, 0.14, 0.13], [2, 0.6, 0.6, 0.63, 0.65], [1, 0.61, 0.6, 0.64, 0.65]]])
    _, _, classes = multibox_target(anchors, labels)
    assert sorted(classes[classes > 0].tolist()) == [1, 2, 3]


@pytest.mark.parametrize("seed", range(6))
def test_multibox_detection_matches_d2l_per_image_algorithm(seed):
    generator = torch.Generator().manual_seed(seed)
    anchors = small_anchor_set()
    num_anchors = anchors.shape[1]
    logits = torch.randn(5, 3, num_anchors, generator=generator) * 2
    probs = torch.softmax(logits, dim=1)
    if seed % 2:  # coarse probabilities: many equal scores, so the tie order is exercised too
        probs = (probs * 8).round() / 8
    offsets = torch.randn(5, num_anchors * 4, generator=generator) * 0.5
    ours = multibox_detection(probs, offsets, anchors, nms_threshold=0.4, pos_threshold=0.2)
    theirs = textbook_detection(probs, offsets, anchors, nms_threshold=0.4, pos_threshold=0.2)
    assert torch.equal(ours, theirs)


# ------------------------------------------------------------------ properties
def test_padding_rows_do_not_change_the_targets():
    generator = torch.Generator().manual_seed(3)
    anchors = small_anchor_set()
    labels = random_labels(generator, 1, 3, duplicates=False)
    labels[..., 0] = 1
    # padding rows whose coordinates match anchors exactly would win assignments if they were used
    padding = torch.cat([torch.full((1, 2, 1), -1.0), anchors[:, :2]], dim=-1)
    padded = torch.cat([labels[:, :1], padding[:, :1], labels[:, 1:], padding[:, 1:]], dim=1)
    for a, b in zip(multibox_target(anchors, padded), multibox_target(anchors, labels)):
        assert torch.equal(a, b)


def test_images_without_boxes_are_all_background():
    anchors = small_anchor_set()
    num_anchors = anchors.shape[1]
    only_padding = torch.tensor([[[-1.0, 0.1, 0.1, 0.5, 0.5]], [[-1.0, 0, 0, 0, 0]]])
    no_rows = torch.zeros(2, 0, 5)
    for labels in (only_padding, no_rows):
        offsets, mask, classes = multibox_target(anchors, labels)
        assert offsets.shape == mask.shape == (2, num_anchors * 4)
        assert classes.shape == (2, num_anchors)
        assert not offsets.any() and not mask.any() and not classes.any()


def test_a_batch_gives_what_its_images_give_alone():
    generator = torch.Generator().manual_seed(7)
    anchors = small_anchor_set()
    labels = random_labels(generator, 5, 6)
    batched = multibox_target(anchors, labels)
    for i in range(5):
        alone = labels[i : i + 1][:, labels[i, :, 0] >= 0]  # without its padding
        for a, b in zip(batched, multibox_target(anchors, alone)):
            assert torch.equal(a[i : i + 1], b)

    num_anchors = anchors.shape[1]
    probs = torch.softmax(torch.randn(5, 2, num_anchors, generator=generator), dim=1)
    offsets = torch.randn(5, num_anchors * 4, generator=generator)
    detections = multibox_detection(probs, offsets, anchors)
    for i in range(5):
        assert torch.equal(detections[i : i + 1], multibox_detection(probs[i : i + 1], offsets[i : i + 1], anchors))


def test_assign_anchor_to_bbox_single_image_form():
    anchors = small_anchor_set()[0]
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.4], [0.5, 0.2, 0.9, 0.7]])
    single = assign_anchor_to_bbox(boxes, anchors, "cpu")
    assert single.shape == (anchors.shape[0],)
    assert set(single.unique().tolist()) == {-1, 0, 1}
    assert torch.equal(assign_anchor_to_bbox(boxes.unsqueeze(0), anchors)[0], single)


def test_detection_rows_below_the_threshold_follow_d2l_convention():
    anchors = torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9]])
    probs = torch.tensor([[[0.995, 0.2], [0.005, 0.8]]])  # anchor 0's object score is below 0.01
    out = multibox_detection(probs, torch.zeros(1, 8), anchors)
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 0.8, 0.5, 0.5, 0.9, 0.9]))
    torch.testing.assert_close(out[0, 1], torch.tensor([-1.0, 0.995, 0.0, 0.0, 0.2, 0.2]))
