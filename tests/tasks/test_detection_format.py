"""The one detection format of the SSD and R-CNN tasks: validation returns {"images", "preds", "targets"}
with torchvision's per-image dicts, predict returns the same dicts in the file's pixels, and one writer
turns either family's into predictions.json, a drawn PNG and COCO results."""

from __future__ import annotations

import json
from functools import partial

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from test_rcnn_task import tiny_net
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from litvision.data.core.predict_images import PredictInputs
from litvision.data.detection.bananas import BananasDataModule, collate_detection
from litvision.data.formats.instances import collate_instances
from litvision.inference.predict import run_prediction
from litvision.nets.tinyssd import TinySSD
from litvision.tasks.rcnn import RCNNTask
from litvision.tasks.ssd import DetectionTask

pytestmark = pytest.mark.filterwarnings("ignore:.*random weights.*:UserWarning")

SGD = partial(torch.optim.SGD, lr=0.1)
PRED_DTYPES = {"boxes": torch.float32, "labels": torch.int64, "scores": torch.float32}


def ssd() -> DetectionTask:
    return DetectionTask(TinySSD(num_classes=2), num_classes=2, optimizer=SGD)


def rcnn(masks: bool) -> RCNNTask:
    net = tiny_net(masks, roi_heads={"score_thresh": 0.0, "detections_per_img": 5})  # random weights: keep some
    return RCNNTask(net, num_classes=3, optimizer=SGD)


def banana_batches():
    targets = [
        torch.tensor([[0.0, 0.1, 0.1, 0.5, 0.6]]),
        torch.tensor([[1.0, 0.4, 0.2, 0.9, 0.8], [0, 0, 0, 0.3, 0.3]]),
    ]
    samples = [(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8), t) for t in targets]
    return DataLoader(samples, batch_size=2, collate_fn=collate_detection)


def instance_batches():
    mask = torch.zeros(1, 64, 64, dtype=torch.uint8)
    mask[0, 8:40, 4:30] = 1
    target = {"boxes": torch.tensor([[4.0, 8, 30, 40]]), "labels": torch.tensor([1]), "masks": mask}
    samples = [(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8), target)] * 2
    return DataLoader(samples, batch_size=2, collate_fn=collate_instances)


class KeepOutputs(L.Callback):
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.outputs = outputs


def validation_outputs(task, loader) -> dict:
    keep = KeepOutputs()
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[keep]
    )
    trainer.validate(task, loader, verbose=False)
    return keep.outputs


def check_format(detections: list[dict], masks: bool, scores: bool, size: tuple[int, int]) -> None:
    for d in detections:
        expected = {k: v for k, v in PRED_DTYPES.items() if scores or k != "scores"}
        if masks:
            expected["masks"] = torch.bool
        assert {k: v.dtype for k, v in d.items()} == expected
        n = len(d["labels"])
        assert d["boxes"].shape == (n, 4) and (not masks or d["masks"].shape == (n, *size))
        assert ((d["boxes"] >= 0) & (d["boxes"] <= max(size))).all()  # pixels, not normalised corners


@pytest.mark.parametrize(
    "family, build, loader, masks",
    [
        ("ssd", ssd, banana_batches, False),
        ("faster_rcnn", partial(rcnn, False), banana_batches, False),
        ("mask_rcnn", partial(rcnn, True), instance_batches, True),
    ],
)
def test_validation_returns_torchvision_detections_and_targets(family, build, loader, masks):
    outputs = validation_outputs(build(), loader())
    assert set(outputs) == {"images", "preds", "targets"}
    assert outputs["images"].shape == (2, 3, 64, 64)
    assert len(outputs["preds"]) == len(outputs["targets"]) == 2
    check_format(outputs["preds"], masks, scores=True, size=(64, 64))
    check_format(outputs["targets"], masks, scores=False, size=(64, 64))
    assert sum(len(d["labels"]) for d in outputs["preds"]) > 0
    if not masks:  # the banana rows, as pixel boxes with the data's class ids (from 0) for both families
        assert [t["labels"].tolist() for t in outputs["targets"]] == [[0], [1, 0]]
        assert outputs["targets"][0]["boxes"][0].tolist() == pytest.approx([6.4, 6.4, 32.0, 38.4])


@pytest.mark.parametrize("family, build", [("ssd", ssd), ("faster_rcnn", partial(rcnn, False))])
def test_predict_writes_the_same_records_and_coco_results_for_both_families(family, build, tmp_path):
    task = build().eval()
    task.class_names = ["cup", "cat"]
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 100, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    data = BananasDataModule(root=tmp_path, num_classes=2, test_transforms=v2.Resize([64, 64]), num_workers=0)
    out = tmp_path / "out"
    out.mkdir()
    writer = run_prediction(task, data, PredictInputs(files=[tmp_path / "a.png"]), out, device="cpu")
    assert {"predictions.json", "coco_results.json", "coco_images.json", "a.png"} <= {p.name for p in out.iterdir()}
    (record,) = json.loads((out / "predictions.json").read_text())
    keys = {
        "file",
        "output_image",
        "coco_image_id",
        "width",
        "height",
        "drawn_score_threshold",
        "drawn",
        "detections",
    }
    assert set(record) == keys
    assert record["detections"] and all(set(d) == {"class", "index", "score", "box"} for d in record["detections"])
    assert all(d["class"] == task.class_names[d["index"]] for d in record["detections"])
    assert all(0 <= d["box"][0] <= d["box"][2] <= 100 and d["box"][3] <= 50 for d in record["detections"])
    results = COCO(str(out / "coco_images.json")).loadRes(str(out / "coco_results.json"))
    assert len(results.getAnnIds()) == len(record["detections"]) == len(writer.results)
    assert {a["category_id"] for a in results.anns.values()} <= {1, 2}  # class index + 1
