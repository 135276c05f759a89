"""Box geometry shared by the detection tasks: banana targets in pixels, detections back in the file."""

from __future__ import annotations

import torch

from litvision.ops.boxes import banana_targets, boxes_to_file, detections_to_file


def test_banana_targets_are_pixel_boxes_with_labels_from_0_and_no_padding():
    targets = torch.tensor([[[1, 0.25, 0.5, 0.75, 1.0], [-1, 0, 0, 0, 0]], [[-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]])
    first, empty = banana_targets(targets, 40, 80)
    assert first["boxes"].tolist() == [[20.0, 20.0, 60.0, 40.0]] and first["labels"].tolist() == [1]
    assert first["labels"].dtype == torch.int64 and first["boxes"].dtype == torch.float32
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)


def test_boxes_come_back_through_the_frame_and_are_clipped_to_the_file():
    # a 100x50 file resized into the middle rows (16..48) of a 64x64 input
    frame = torch.tensor([0.0, 16, 64, 48])
    boxes = torch.tensor([[0.0, 16, 32, 32], [-8.0, 0, 80, 64]])
    assert boxes_to_file(boxes, frame, (50, 100)).tolist() == [[0.0, 0.0, 50.0, 25.0], [0.0, 0.0, 100.0, 50.0]]


def test_detections_map_back_to_the_file_through_the_frame():
    """A 40x20 file letterboxed into a 64x64 input at (0, 16)-(64, 48): boxes and masks come back in the file."""
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 16:32, 0:32] = True  # the file's top-left quarter
    found = {"boxes": torch.tensor([[0.0, 16, 32, 32]]), "scores": torch.ones(1), "labels": torch.zeros(1).long()}
    meta = {"height": 20, "width": 40, "frame": [0, 16, 64, 48]}
    out = detections_to_file({**found, "masks": masks}, (64, 64), meta)
    assert out["boxes"].tolist() == [[0.0, 0.0, 20.0, 10.0]]
    assert out["masks"].shape == (1, 20, 40) and out["masks"][0, :10, :20].all() and out["masks"].sum() == 200
    same = detections_to_file(found, (64, 64), {"height": 64, "width": 64})
    assert same is found
