"""Faster R-CNN / Mask R-CNN through torchvision: the nets on tiny inputs, the RoI-pool option, the task's
target conversion and metric path (oracle), predictions in COCO's results format, the experiments end to
end on generated data, and the errors a user can make."""

from __future__ import annotations

import io
import json
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import REPO, compose_config, run_cli
from PIL import Image, ImageColor
from torch import nn
from torch.utils.data import DataLoader
from torchvision.ops import MultiScaleRoIAlign, roi_pool

from litvision.data.core.base import VisionDataModule
from litvision.data.core.predict_images import PredictInputs
from litvision.data.detection.bananas import collate_detection
from litvision.data.formats.instances import collate_instances
from litvision.errors import ConfigError, DataError, WeightsUnavailableError
from litvision.inference.predict import run_prediction
from litvision.nets.rcnn import efficientnet_lite0_rcnn, torchvision_rcnn
from litvision.nets.roi_pool import MultiScaleRoIPool
from litvision.runtime import run
from litvision.tasks.rcnn import RCNNTask, to_torchvision_targets
from litvision.utils.box_drawing import class_colour
from litvision.utils.captions import CARD_WIDTH

SMALL = dict(
    min_size=64,
    max_size=64,
    anchor_sizes=[[8], [16], [32], [64]],
    representation_size=32,
    mask_head_layers=[16],
    fpn_channels=16,
    rpn={"pre_nms_top_n_train": 50, "post_nms_top_n_train": 20, "pre_nms_top_n_test": 50, "post_nms_top_n_test": 20},
    roi_heads={"batch_size_per_image": 16},
)
FAST = [
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "debug=limit",  # without fdr's anomaly detection, which costs more than these runs themselves
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]
# few proposals and RoIs: the box head's cost grows with them (1000 per image by default at test time)
FEW_ROIS = [
    "model.net.rpn={pre_nms_top_n_train:50,post_nms_top_n_train:20,pre_nms_top_n_test:50,post_nms_top_n_test:20}",
    "model.net.roi_heads={batch_size_per_image:16,detections_per_img:10}",
]


def tiny_net(masks: bool, num_classes: int = 3, **kwargs):
    return efficientnet_lite0_rcnn(num_classes, masks=masks, weights=None, **{**SMALL, **kwargs})


def tiny_targets(masks: bool) -> list[dict]:
    mask = torch.zeros(2, 64, 64, dtype=torch.uint8)
    mask[0, 8:30, 4:20] = 1
    mask[1, 30:60, 20:50] = 1
    full = {"boxes": torch.tensor([[4.0, 8, 20, 30], [20, 30, 50, 60]]), "labels": torch.tensor([1, 2])}
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    if masks:
        full["masks"], empty["masks"] = mask, mask[:0]
    return [full, empty]


@pytest.fixture(scope="module")
def nets() -> dict[bool, nn.Module]:
    """A tiny Faster R-CNN (False) and Mask R-CNN (True), built once (read-only use)."""
    return {False: tiny_net(False), True: tiny_net(True)}


# ------------------------------------------------------------------ the nets
@pytest.mark.parametrize("masks", [False, True])
def test_losses_and_detections_on_tiny_inputs(masks):
    net = tiny_net(masks)  # its own: it is trained a step
    images = [torch.rand(3, 64, 64), torch.rand(3, 48, 64)]
    losses = net(images, tiny_targets(masks))
    expected = {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"} | (
        {"loss_mask"} if masks else set()
    )
    assert set(losses) == expected and all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    net.eval()
    with torch.no_grad():
        out = net(images)
    for image, d in zip(images, out):
        n = len(d["boxes"])
        assert d["boxes"].shape == (n, 4) and d["scores"].shape == d["labels"].shape == (n,)
        assert set(d["labels"].tolist()) <= {1, 2}  # never the background
        if masks:
            assert d["masks"].shape == (n, 1, *image.shape[-2:])
        else:
            assert "masks" not in d


def test_the_backbone_is_an_efficientnet_feature_pyramid_normalising_with_its_statistics(nets):
    net = nets[False]
    features = net.backbone(torch.rand(1, 3, 64, 64))
    assert list(features) == ["0", "1", "2", "pool"]
    assert [f.shape[-1] for f in features.values()] == [8, 4, 2, 1]  # strides 8, 16, 32, 64
    assert all(f.shape[1] == 16 for f in features.values())
    assert net.transform.image_mean == [0.5] * 3 and net.transform.image_std == [0.5] * 3


def test_the_pyramid_starts_from_the_offline_imagenet_weights():
    from litvision.nets.backbones import create_backbone
    from litvision.nets.efficientnet_fpn import EfficientNetLite0FPN

    imagenet = create_backbone("efficientnet_lite0", "imagenet").state_dict()
    body = EfficientNetLite0FPN("imagenet", out_channels=8).body.state_dict()
    for key in ("conv_stem.weight", "blocks.6.0.conv_pwl.weight", "bn1.running_var"):
        assert torch.equal(body[key], imagenet[key])


def test_roi_pool_option_replaces_both_poolers_and_pools_differently(nets):
    align, pool = nets[True], tiny_net(True, roi_pooling="pool")
    for name in ("box_roi_pool", "mask_roi_pool"):
        assert type(getattr(align.roi_heads, name)) is MultiScaleRoIAlign
        assert type(getattr(pool.roi_heads, name)) is MultiScaleRoIPool
    features = {"0": torch.rand(1, 4, 64, 64), "1": torch.rand(1, 4, 32, 32)}
    boxes = [torch.tensor([[3.3, 5.1, 20.7, 30.2], [10.0, 2.0, 200.0, 181.0]])]
    pooled = pool.roi_heads.box_roi_pool(features, boxes, [(256, 256)])
    aligned = align.roi_heads.box_roi_pool(features, boxes, [(256, 256)])
    assert pooled.shape == aligned.shape == (2, 4, 7, 7) and not torch.allclose(pooled, aligned)
    # each box is max-pooled on the level FPN's rule (eq. 1) gives it: 20x25 px at stride 4, 190x179 at 8
    rois = torch.cat([torch.zeros(2, 1), boxes[0]], dim=1)
    assert torch.equal(pooled[0], roi_pool(features["0"], rois[:1], (7, 7), 0.25)[0])
    assert torch.equal(pooled[1], roi_pool(features["1"], rois[1:], (7, 7), 0.125)[0])


def test_torchvision_detectors_keep_the_coco_layout_without_weights():
    from torchvision.models import resnet50
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.misc import FrozenBatchNorm2d

    coco_layout = FasterRCNN(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3), 91).state_dict()
    built = torchvision_rcnn("fasterrcnn_resnet50_fpn", 91, weights=None, roi_pooling="pool").state_dict()
    assert {k: v.shape for k, v in built.items()} == {k: v.shape for k, v in coco_layout.items()}


def test_coco_weights_from_a_file_load_under_new_predictors(tmp_path):
    arch = "fasterrcnn_mobilenet_v3_large_fpn"
    coco = torchvision_rcnn(arch, 91, weights=None, min_size=64, max_size=64)
    torch.save(coco.state_dict(), tmp_path / "coco.pth")
    net = torchvision_rcnn(arch, 3, weights=str(tmp_path / "coco.pth"), min_size=64, max_size=64)
    assert net.roi_heads.box_predictor.cls_score.out_features == 3
    key = "backbone.body.0.0.weight"
    assert torch.equal(net.state_dict()[key], coco.state_dict()[key])
    losses = net([torch.rand(3, 64, 64)], tiny_targets(False)[:1])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}


def test_coco_weights_unavailable_offline_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("torch.hub.load_state_dict_from_url", no_network)
    with pytest.raises(
        WeightsUnavailableError,
        match=r"COCO weights maskrcnn_resnet50_fpn_coco-bf2d0c1e\.pth.*torch_home/hub/checkpoints",
    ):
        torchvision_rcnn("maskrcnn_resnet50_fpn", 21)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: tiny_net(False, num_classes=1), r"num_classes=1: it counts the background .* K \+ 1"),
        (lambda: tiny_net(False, roi_pooling="max"), r"roi_pooling must be one of align, pool"),
        (lambda: tiny_net(False, anchor_sizes=[[8], [16]]), r"anchor_sizes has 2 levels .* has 4"),
        (lambda: tiny_net(False, rpn={"nms_threshold": 0.5}), r"model.net.rpn: unknown setting\(s\) nms_threshold"),
        (lambda: torchvision_rcnn("resnet18", 2), r"arch 'resnet18' is not one of"),
    ],
)
def test_bad_net_settings_are_config_errors(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


# ------------------------------------------------------------------ targets and the metric path
def test_banana_batches_become_torchvision_targets_with_empty_images():
    targets = torch.tensor([[[1, 0.25, 0.5, 0.75, 1.0], [-1, 0, 0, 0, 0]], [[-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]])
    images = [torch.zeros(3, 40, 80), torch.zeros(3, 40, 80)]
    first, empty = to_torchvision_targets(targets, images)
    assert first["boxes"].tolist() == [[20.0, 20.0, 60.0, 40.0]] and first["labels"].tolist() == [2]
    assert first["labels"].dtype == torch.int64 and first["boxes"].dtype == torch.float32
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)


def test_a_degenerate_box_that_reaches_the_task_is_named(nets):
    task = RCNNTask(nets[False], num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1))
    batch = collate_detection([(torch.rand(3, 32, 32), torch.tensor([[0.0, 0.5, 0.1, 0.5, 0.4]]))])
    with pytest.raises(DataError, match=r"image 0 of a batch has a box without width or height \[16"):
        task.training_step(batch, 0)


class OracleNet(nn.Module):
    """Stands in for a torchvision detector: returns fixed detections for image i (its pixels hold i)."""

    def __init__(self, outputs: list[dict], masks: bool) -> None:
        super().__init__()
        self.outputs = outputs
        self.roi_heads = nn.Module()
        self.roi_heads.box_predictor = nn.Module()
        self.roi_heads.box_predictor.cls_score = nn.Linear(1, 3)  # 2 object classes + background
        self.roi_heads.has_mask = lambda: masks
        self.roi_heads.box_roi_pool = nn.Identity()
        self.backbone = nn.Identity()

    def forward(self, images, targets=None):
        return [self.outputs[round(float(image[0, 0, 0]) * 255)] for image in images]


def _box_mask(box, size=64):
    mask = torch.zeros(size, size)
    x1, y1, x2, y2 = (int(v) for v in box)
    mask[y1:y2, x1:x2] = 1
    return mask


def test_oracle_detections_give_the_known_average_precisions():
    """Image 0: class 0 found exactly. Image 1: class 1 found at IoU 0.7 (a 10x10 box against 10x7): COCO's
    thresholds 0.5..0.7 pass, 0.75..0.95 fail, so its AP is 5/10; mAP = (1 + 0.5) / 2, mAP_75 = (1 + 0) / 2.
    Masks drawn from the predicted boxes score the same; torchvision's labels are one higher."""
    truth = [[10, 10, 30, 40], [20, 20, 30, 30]]
    predicted = [[10, 10, 30, 40], [20, 20, 30, 27]]
    outputs = [
        {
            "boxes": torch.tensor([box], dtype=torch.float32),
            "scores": torch.tensor([0.9]),
            "labels": torch.tensor([label + 1]),
            "masks": _box_mask(box)[None, None],
        }
        for label, box in enumerate(predicted)
    ]
    task = RCNNTask(OracleNet(outputs, masks=True), num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1))
    task.class_names = ["cup", "cat"]
    samples = [
        (
            torch.full((3, 64, 64), i, dtype=torch.uint8),
            {
                "boxes": torch.tensor([box], dtype=torch.float32),
                "labels": torch.tensor([i]),
                "masks": _box_mask(box)[None].to(torch.uint8),
            },
        )
        for i, box in enumerate(truth)
    ]
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    (metrics,) = trainer.validate(task, DataLoader(samples, batch_size=2, collate_fn=collate_instances))
    for prefix in ("", "mask_"):
        assert metrics[f"val/{prefix}mAP"] == pytest.approx(0.75)
        assert metrics[f"val/{prefix}mAP_50"] == pytest.approx(1.0)
        assert metrics[f"val/{prefix}mAP_75"] == pytest.approx(0.5)
        assert metrics[f"val/{prefix}AP/cup"] == pytest.approx(1.0)
        assert metrics[f"val/{prefix}AP/cat"] == pytest.approx(0.5)


def test_task_refuses_a_net_of_another_class_count(nets):
    with pytest.raises(ConfigError, match=r"model.num_classes=4 but the net predicts 3 classes"):
        RCNNTask(nets[False], num_classes=4, optimizer=partial(torch.optim.SGD, lr=0.1))


# ------------------------------------------------------------------ prediction: drawn images, COCO results
def test_predictions_load_into_pycocotools(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    net = tiny_net(True, roi_heads={"score_thresh": 0.0, "detections_per_img": 5})
    task = RCNNTask(net, num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1)).eval()
    task.class_names, task.category_ids = ["cup", "cat"], [3, 7]
    files = []
    for i, size in enumerate([(40, 56), (64, 48)]):
        files.append(tmp_path / f"in_{i}.png")
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (*size, 3), dtype=np.uint8)).save(files[-1])

    data = VisionDataModule(batch_size=1, num_workers=0)  # the default prediction input: the whole file
    out = tmp_path / "out"
    out.mkdir()
    writer = run_prediction(task, data, PredictInputs(files=files), out, {"score_threshold": 0.0}, device="cpu")
    records = json.loads((out / "predictions.json").read_text())
    assert [Path(r["file"]).name for r in records] == ["in_0.png", "in_1.png"] == [p.name for p in files]
    assert all(Path(r["output_image"]).is_file() for r in records)
    assert Image.open(records[1]["output_image"]).size == (48, 64)
    gt = COCO(str(out / "coco_images.json"))
    results = gt.loadRes(str(out / "coco_results.json"))
    assert len(results.getAnnIds()) == sum(len(r["detections"]) for r in records) == len(writer.results) > 0
    ann = results.anns[results.getAnnIds()[0]]
    assert ann["category_id"] in (3, 7) and results.annToMask(ann).shape == (40, 56)
    for record in records:  # boxes in each file's pixels
        for d in record["detections"]:
            assert 0 <= d["box"][0] <= d["box"][2] <= record["width"] and d["box"][3] <= record["height"]
    evaluation = COCOeval(gt, results, "segm")  # the files feed COCO's own evaluation as they are
    evaluation.params.useCats = 0
    evaluation.evaluate()


# ------------------------------------------------------------------ the experiments on generated data
@pytest.fixture(scope="module")
def bananas_run(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("frcnn")
    overrides = [
        "experiment=faster_rcnn_bananas_synth",
        f"paths.data_dir={base / 'data'}",
        *FAST,
        "data.image_size=64",
        "data.batch_size=4",
        "data.prepare.num_train=8",
        "data.prepare.num_val=4",
        "model.net.min_size=64",
        "model.net.max_size=64",
        "trainer.log_every_n_steps=1",
        *FEW_ROIS,
    ]
    return {"dir": base / "run", "overrides": overrides, "metrics": run.train(compose_config(overrides, base / "run"))}


@pytest.mark.slow
def test_faster_rcnn_bananas_synth_logs_each_loss_and_the_ssd_metric_names(bananas_run):
    metrics = bananas_run["metrics"]
    for name in ("loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"):
        assert f"train/{name}" in metrics
    for stage in ("val", "test"):
        assert 0 <= metrics[f"{stage}/mAP"] <= metrics[f"{stage}/mAP_50"] <= 1
        assert f"{stage}/mAP_75" in metrics
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(bananas_run["dir"] / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"train/augmented_batch", "val/detections"} <= set(events.Tags()["images"])
    grid = events.Images("val/detections")[0]
    # 4 images of 64 px, a row each (truth | prediction) drawn at 166 px: as wide as TensorBoard's image card
    assert grid.width == CARD_WIDTH and grid.height > 4 * 166 + 12
    pixels = np.asarray(Image.open(io.BytesIO(grid.encoded_image_string)).convert("RGB"))
    assert sum(int((pixels == ImageColor.getrgb(class_colour(c))).all(-1).sum()) for c in range(3)) > 20  # true boxes
    ckpt = torch.load(bananas_run["dir"] / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    meta = ckpt["litvision"]
    assert meta["task"] == "litvision.tasks.rcnn.RCNNTask" and meta["net"] == "FasterRCNN"
    assert meta["backbone"] == "EfficientNetLite0FPN" and meta["roi_pool"] == "MultiScaleRoIAlign"
    assert meta["num_classes"] == 4 and meta["class_names"] == ["coffee_cup", "cat_face", "horse"]


@pytest.mark.slow
def test_predict_command_from_a_faster_rcnn_checkpoint(bananas_run, tmp_path):
    ckpt = bananas_run["dir"] / "checkpoints/last.ckpt"
    (image,) = list((bananas_run["dir"].parent / "data").glob("bananas_synth/*/bananas_val/images/0.png"))
    run_cli([str(REPO / "predict.py"), f"ckpt_path={ckpt}", f"input={image}", "device=cpu"], tmp_path)
    (out,) = (tmp_path / "outputs/predict/runs").iterdir()
    assert {"predictions.json", "coco_results.json", "coco_images.json", "0.png"} <= {p.name for p in out.iterdir()}


@pytest.mark.slow
def test_mask_rcnn_voc_synth_logs_box_and_mask_metrics(tmp_path):
    overrides = [
        "experiment=mask_rcnn_voc_synth",
        f"paths.data_dir={tmp_path / 'data'}",
        *FAST,
        "data.prepare.num_train=8",
        "data.prepare.num_val=4",
        "data.prepare.height=48",
        "data.prepare.width=64",
        "model.net.min_size=48",
        "model.net.max_size=64",
        "model.net.roi_pooling=pool",
        *FEW_ROIS,
    ]
    metrics = run.train(compose_config(overrides, tmp_path / "run"))
    for stage in ("val", "test"):
        for name in ("mAP", "mAP_50", "mAP_75", "mask_mAP", "mask_mAP_50", "mask_mAP_75"):
            assert 0 <= metrics[f"{stage}/{name}"] <= 1
    assert "train/loss_mask" in metrics
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert "val/detections" in events.Tags()["images"]
    ckpt = torch.load(tmp_path / "run/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["litvision"]["net"] == "MaskRCNN" and ckpt["litvision"]["roi_pool"] == "MultiScaleRoIPool"


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["faster_rcnn_bananas", "mask_rcnn_voc"])
def test_real_data_experiments_run_on_generated_data_in_their_format(experiment, tmp_path):
    from litvision.data.synth.bananas import generate_bananas
    from litvision.data.synth.voc import generate_voc

    if experiment == "faster_rcnn_bananas":
        generate_bananas(tmp_path / "data" / "banana-detection", num_train=4, num_val=2, image_size=64, seed=1)
        (tmp_path / "data" / "banana-detection" / "classes.txt").unlink()  # the real archive has none
        root = tmp_path / "data"
    else:
        root = generate_voc(tmp_path / "data", num_train=4, num_val=2, height=48, width=64)
    overrides = [
        f"experiment={experiment}",
        f"data.root={root}",
        "data.download=false",
        *FAST,
        "data.batch_size=2",
        "model.net.weights=null",
        "model.net.min_size=64",
        "model.net.max_size=64",
        *FEW_ROIS,
        # one step and one validation batch of a ResNet-50: no checkpoint (170 MB), no test, no sanity check
        "callbacks=none",
        "test=false",
        "trainer.limit_train_batches=1",
        "+trainer.num_sanity_val_steps=0",
    ]
    cfg = compose_config(overrides, tmp_path / "run")
    assert cfg.model.num_classes == cfg.data.get("num_classes", 20) + 1
    assert "val/mAP" in run.train(cfg)


# ------------------------------------------------------------------ a user's mistakes, one line each
@pytest.mark.slow
def test_num_classes_that_forgot_the_background_is_one_error_line(tmp_path):
    args = [
        str(REPO / "train.py"),
        "experiment=faster_rcnn_bananas_synth",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.prepare.num_train=2",
        "data.prepare.num_val=2",
        "data.image_size=32",
        "data.num_workers=0",
        "model.num_classes=3",
        "trainer.accelerator=cpu",
    ]
    proc = run_cli(args, tmp_path, check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 1 and errors == [
        "error: model.num_classes=3 but the data has 3 object classes: set model.num_classes=4 (it counts "
        "the background too)"
    ]


def test_mask_rcnn_on_boxes_only_data_says_what_to_use(nets):
    task = RCNNTask(nets[True], num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1))
    batch = collate_detection([(torch.rand(3, 32, 32), torch.tensor([[0.0, 0.1, 0.1, 0.5, 0.5]]))])
    with pytest.raises(DataError, match=r"Mask R-CNN needs instance masks.*Faster R-CNN"):
        task.training_step(batch, 0)


def test_evaluation_does_not_depend_on_the_batch_size(nets):
    """Images of different sizes padded into one batch are detected as each one alone (and as predict.py,
    which gets them unpadded): neither the padding nor the batch's largest size reaches a detection."""
    net = nets[True]
    kept = net.roi_heads.score_thresh
    net.roi_heads.score_thresh = 0.0  # random weights: keep every detection, so there is something to compare
    task = RCNNTask(net, num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1)).eval()
    g = torch.Generator().manual_seed(0)
    samples = []
    for h, w in [(64, 48), (40, 64), (56, 56)]:
        target = tiny_targets(True)[0]
        target["masks"] = target["masks"][:, :h, :w]
        target["boxes"] = target["boxes"].clamp(max=min(h, w) - 1)
        samples.append((torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g), target))
    try:
        with torch.no_grad():
            together = task._evaluate(collate_instances(samples), "test")["preds"]
            alone = [task._evaluate(collate_instances([s]), "test")["preds"][0] for s in samples]
            predicted = task.detections([image for image, _ in samples])
    finally:
        net.roi_heads.score_thresh = kept
    for (image, _), a, b, c in zip(samples, together, alone, predicted):
        h, w = image.shape[-2:]
        assert len(a["boxes"]) > 0
        for key in ("boxes", "scores", "labels"):
            assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5)
            assert torch.allclose(a[key].float(), c[key].float(), atol=1e-5)
        assert torch.equal(a["masks"][:, :h, :w], b["masks"]) and not a["masks"][:, h:].any()
