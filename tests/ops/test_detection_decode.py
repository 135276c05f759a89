"""decode_detections: the richer decoding the detection task uses (per-class NMS, thresholds, limits)."""

from __future__ import annotations

import torch

from litvision.ops.anchors import multibox_detection, multibox_prior
from litvision.ops.detection import decode_detections

# two heavily overlapping anchors, one far away
ANCHORS = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]])


def probs(*columns):
    """(1, C+1, A) from per-anchor [background, class 0, class 1, ...] probabilities."""
    return torch.tensor(columns, dtype=torch.float32).T.unsqueeze(0)


def test_overlapping_boxes_of_different_classes_both_survive_per_class_nms():
    p = probs([0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05])
    det = decode_detections(p, torch.zeros(1, 12), ANCHORS, score_threshold=0.3)[0]
    assert det["labels"].tolist() == [0, 1]
    torch.testing.assert_close(det["scores"], torch.tensor([0.8, 0.7]))
    torch.testing.assert_close(det["boxes"], ANCHORS[:2])

    agnostic = decode_detections(p, torch.zeros(1, 12), ANCHORS, score_threshold=0.3, class_agnostic=True)[0]
    assert agnostic["labels"].tolist() == [0]


def test_same_class_overlaps_are_suppressed_and_far_boxes_kept():
    p = probs([0.1, 0.9], [0.2, 0.8], [0.3, 0.7])
    det = decode_detections(p, torch.zeros(1, 12), ANCHORS)[0]
    assert det["labels"].tolist() == [0, 0]
    torch.testing.assert_close(det["boxes"], ANCHORS[[0, 2]])
    assert det["scores"].tolist() == sorted(det["scores"].tolist(), reverse=True)


def test_score_threshold_top_k_and_max_detections():
    generator = torch.Generator().manual_seed(0)
    num_anchors = 50
    centres = torch.rand(num_anchors, 2, generator=generator) * 0.8 + 0.1
    anchors = torch.cat([centres - 0.01, centres + 0.01], dim=1)  # tiny, so NMS removes nothing
    p = torch.softmax(torch.randn(2, 3, num_anchors, generator=generator) * 3, dim=1)
    offsets = torch.zeros(2, num_anchors * 4)
    everything = decode_detections(p, offsets, anchors, score_threshold=0.0, top_k=1000, max_detections=1000)
    assert all(len(d["scores"]) == 2 * num_anchors for d in everything)

    above = decode_detections(p, offsets, anchors, score_threshold=0.5, top_k=1000, max_detections=1000)
    for d, probs_b in zip(above, p):
        assert len(d["scores"]) == int((probs_b[1:] > 0.5).sum())
        assert (d["scores"] > 0.5).all()

    top = decode_detections(p, offsets, anchors, score_threshold=0.0, top_k=7, max_detections=1000)
    assert all(len(d["scores"]) == 7 for d in top)
    for d, probs_b in zip(top, p):
        torch.testing.assert_close(d["scores"], probs_b[1:].flatten().topk(7).values)

    capped = decode_detections(p, offsets, anchors, score_threshold=0.0, top_k=1000, max_detections=5)
    assert all(len(d["scores"]) == 5 for d in capped)


def test_boxes_are_clipped_and_empty_results_have_shapes():
    anchors = torch.tensor([[-0.2, -0.1, 0.3, 0.4]])
    det = decode_detections(probs([0.1, 0.9]), torch.zeros(1, 4), anchors)[0]
    torch.testing.assert_close(det["boxes"], torch.tensor([[0.0, 0.0, 0.3, 0.4]]))
    unclipped = decode_detections(probs([0.1, 0.9]), torch.zeros(1, 4), anchors, clip=False)[0]
    torch.testing.assert_close(unclipped["boxes"], anchors)

    none = decode_detections(probs([0.995, 0.005]), torch.zeros(1, 4), anchors)[0]
    assert none["boxes"].shape == (0, 4) and none["scores"].shape == (0,) and none["labels"].dtype == torch.int64


def test_without_its_options_it_keeps_what_the_textbook_decoder_keeps():
    # one decoding and one NMS under both: class-agnostic, every anchor a candidate, nothing clipped or cut
    generator = torch.Generator().manual_seed(1)
    anchors = multibox_prior(torch.zeros(6, 6), [0.3, 0.5], [1, 2, 0.5])
    num_anchors = anchors.shape[1]
    p = torch.softmax(torch.randn(3, 3, num_anchors, generator=generator), dim=1)
    offsets = torch.randn(3, num_anchors * 4, generator=generator) * 0.3
    ours = decode_detections(
        p,
        offsets,
        anchors,
        score_threshold=-1.0,
        nms_threshold=0.5,
        top_k=10**6,
        max_detections=10**6,
        class_agnostic=True,
        clip=False,
    )
    textbook = multibox_detection(p, offsets, anchors, nms_threshold=0.5, pos_threshold=0.0)
    for mine, rows in zip(ours, textbook):
        kept = rows[rows[:, 0] >= 0]
        assert torch.equal(mine["boxes"], kept[:, 2:]) and torch.equal(mine["scores"], kept[:, 1])
        assert torch.equal(mine["labels"], kept[:, 0].long())
