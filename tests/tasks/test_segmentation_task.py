import json
import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from litvision.data.core.base import VisionDataModule
from litvision.data.core.predict_images import PredictInputs
from litvision.data.formats.voc import IGNORE_INDEX, VOC_CLASSES, VOC_PALETTE, read_label
from litvision.errors import ConfigError
from litvision.inference.predict import run_prediction
from litvision.nets.backbones import IMAGENET_MEAN, IMAGENET_STD
from litvision.nets.fcn import FCN
from litvision.tasks.segmentation import SegmentationTask, segmentation_metrics

SGD = partial(torch.optim.SGD, lr=0.01)


def _task(backbone="resnet18", **kwargs):
    torch.manual_seed(0)
    task = SegmentationTask(FCN(backbone, num_classes=21, weights=None), num_classes=21, optimizer=SGD, **kwargs)
    task.class_names = list(VOC_CLASSES)
    return task.eval()


def _labels(seed=0, shape=(2, 30, 40), classes=(0, 8, 15)):
    g = torch.Generator().manual_seed(seed)
    target = torch.tensor(classes)[torch.randint(len(classes), shape, generator=g)]
    target[:, 0, :] = IGNORE_INDEX  # a boundary band
    return target


# --- metrics -----------------------------------------------------------------------------------------


def test_perfect_predictions_give_iou_one_and_ignored_pixels_do_not_count():
    target = _labels()
    preds = target.clone()
    preds[target == IGNORE_INDEX] = 3  # whatever is predicted on ignored pixels counts nowhere
    metrics = segmentation_metrics(21, IGNORE_INDEX, per_class=True)
    metrics.update(preds, target)
    values = metrics.compute()
    assert values["acc"] == 1 and values["mIoU"] == 1
    iou = values["IoU"]
    assert iou[[0, 8, 15]].tolist() == [1, 1, 1]
    # class 3 was only "predicted" on ignored pixels: absent, like every class not in the labels
    assert all(math.isnan(v) for i, v in enumerate(iou.tolist()) if i not in (0, 8, 15))


def test_miou_averages_over_classes_present_in_predictions_or_labels():
    target = _labels(shape=(1, 20, 20), classes=(0, 8))
    target[0, 0, :] = 0  # no ignored pixels here
    preds = target.clone()
    cat = (target == 8).nonzero()
    preds[tuple(cat[0])] = 12  # one cat pixel predicted as dog, a class absent from the labels
    n_cat, n_bg = int((target == 8).sum()), int((target == 0).sum())
    metrics = segmentation_metrics(21, IGNORE_INDEX, per_class=True)
    metrics.update(preds, target)
    values = metrics.compute()
    expected = {0: 1.0, 8: (n_cat - 1) / n_cat, 12: 0.0}  # the 18 other classes do not count
    assert values["mIoU"].item() == pytest.approx(sum(expected.values()) / 3)
    for index, iou in expected.items():
        assert values["IoU"][index].item() == pytest.approx(iou)
    assert values["acc"].item() == pytest.approx((n_bg + n_cat - 1) / (n_bg + n_cat))


def test_metrics_accumulate_over_the_epoch_not_per_batch():
    # IoU of the union of two batches, not the mean of the batches' IoUs
    a, b = torch.zeros(1, 4, 4, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long)
    a[0, :2], b[0, :1] = 8, 8
    pred_a, pred_b = a.clone(), torch.zeros_like(b)  # batch b misses its cat row entirely
    metrics = segmentation_metrics(21, IGNORE_INDEX, per_class=True)
    metrics.update(pred_a, a)
    metrics.update(pred_b, b)
    assert metrics.compute()["IoU"][8].item() == pytest.approx(8 / 12)


# --- loss and normalisation ------------------------------------------------------------------------


def test_loss_ignores_255_and_survives_a_batch_with_nothing_labelled():
    task = _task()
    logits = torch.randn(2, 21, 6, 7, requires_grad=True)
    target = _labels(shape=(2, 6, 7))
    torch.testing.assert_close(task.loss(logits, target), F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX))
    nothing = torch.full_like(target, IGNORE_INDEX)
    loss = task.loss(logits, nothing)
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    ("backbone", "mean", "std"),
    [
        ("resnet18", IMAGENET_MEAN, IMAGENET_STD),
        ("efficientnet_lite0", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ],
)
def test_the_net_normalises_with_its_backbones_mean_and_std(backbone, mean, std):
    task = _task(backbone).eval()
    images = torch.randint(0, 256, (2, 3, 37, 45), dtype=torch.uint8)
    normalised = (images.float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    net = task.net
    with torch.no_grad():
        expected = net.transpose_conv(net.final_conv(net.trunk(normalised)))[..., :37, :45]
        torch.testing.assert_close(task(images), expected)
        torch.testing.assert_close(task(images.float() / 255), expected)  # float input in [0, 1] too


def test_net_and_task_must_agree_on_classes():
    with pytest.raises(ConfigError, match="model.num_classes=20 but the net has 21"):
        SegmentationTask(FCN("resnet18", num_classes=21, weights=None), num_classes=20, optimizer=SGD)


def test_identity_names_the_backbone():
    identity = _task("efficientnet_lite0").identity()
    assert identity == {
        "task": "litvision.tasks.segmentation.SegmentationTask",
        "net": "FCN",
        "backbone": "efficientnet_lite0",
        "num_classes": 21,
    }


# --- prediction on image files ------------------------------------------------------------------------


def _predict(task, files, out):
    """predict.py's path without a checkpoint: Trainer.predict with the task's writer."""
    writer = run_prediction(task, VisionDataModule(num_workers=0), PredictInputs(files=files), out, device="cpu")
    return writer.records


def _photo(path, size):
    import skimage.data

    Image.fromarray(skimage.data.chelsea()).resize(size).save(path)
    return path


@pytest.mark.parametrize("predict_max_side", [None, 40])
def test_predict_files_writes_full_size_colourised_masks(tmp_path, predict_max_side):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), out.mkdir()
    files = [_photo(inputs / "cat.jpg", (90, 70)), _photo(inputs / "cat.png", (33, 51))]  # (W, H), same stem
    task = _task(predict_max_side=predict_max_side)
    results = _predict(task, files, out)
    assert json.loads((out / "predictions.json").read_text()) == results
    for path, result, (w, h) in zip(files, results, [(90, 70), (33, 51)]):
        assert result["file"] == str(path) and (result["height"], result["width"]) == (h, w)
        mask = Image.open(result["mask"])
        assert mask.mode == "P" and mask.size == (w, h)
        assert np.array_equal(np.asarray(mask.getpalette(), np.uint8).reshape(-1, 3), VOC_PALETTE)
        indices = read_label(result["mask"])  # the same format as VOC's labels
        assert Image.open(result["overlay"]).size == (w, h)
        fractions = result["class_fractions"]
        assert sum(fractions.values()) == pytest.approx(1, abs=1e-4)
        counts = np.bincount(indices.ravel(), minlength=21)
        assert fractions == {VOC_CLASSES[i]: round(c / indices.size, 6) for i, c in enumerate(counts) if c}
        if predict_max_side is None:  # the mask is the net's argmax on the whole image
            image = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
            with torch.no_grad():
                assert np.array_equal(indices, task(image[None]).argmax(1)[0].numpy())
    assert {p.name for p in out.iterdir()} == {
        "predictions.json",
        "cat_mask.png",
        "cat_overlay.png",
        "cat_2_mask.png",
        "cat_2_overlay.png",
    }


def test_overlay_leaves_background_as_is_and_blends_classes(tmp_path):
    path = _photo(tmp_path / "photo.png", (40, 30))

    class HalfCat(torch.nn.Module):  # left half background, right half cat
        num_classes = 21

        def forward(self, x):
            scores = torch.zeros(x.shape[0], 21, *x.shape[-2:])
            scores[:, 0, :, : x.shape[-1] // 2] = 1
            scores[:, 8, :, x.shape[-1] // 2 :] = 1
            return scores

    task = SegmentationTask(HalfCat(), 21, optimizer=SGD)
    task.class_names = list(VOC_CLASSES)
    result = _predict(task, [path], tmp_path)[0]
    photo = np.asarray(Image.open(path).convert("RGB")).astype(float)
    overlay = np.asarray(Image.open(result["overlay"])).astype(float)
    assert np.array_equal(overlay[:, :20], photo[:, :20])
    np.testing.assert_allclose(overlay[:, 20:], np.round(0.5 * photo[:, 20:] + 0.5 * VOC_PALETTE[8]), atol=0.51)
    assert result["class_fractions"] == {"background": 0.5, "cat": 0.5}


# --- full-image evaluation -----------------------------------------------------------------------------


def test_full_image_evaluation_does_not_depend_on_the_batch_size():
    """Images of different sizes padded into one batch (data.eval_mode=full) score as each one alone, and
    as predict.py's per-image masks: the padding of a neighbour cannot reach a prediction."""
    from litvision.data.core.padding import IMAGENET_MEAN_COLOR, PadCollate

    task = _task()
    g = torch.Generator().manual_seed(1)
    samples = [
        (torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g), _labels(i, (1, h, w))[0].to(torch.uint8))
        for i, (h, w) in enumerate([(40, 56), (64, 48), (33, 70)])
    ]
    collate = PadCollate(IMAGENET_MEAN_COLOR)

    def scores(batches):
        metrics = segmentation_metrics(21, IGNORE_INDEX, per_class=True)
        with torch.no_grad():
            for batch in batches:
                task._step(collate(batch), "test", metrics)
        return metrics.compute()

    together, alone = scores([samples]), scores([[s] for s in samples])
    with torch.no_grad():
        predicted = torch.cat([task.predict_image(image).flatten() for image, _ in samples])
    reference = segmentation_metrics(21, IGNORE_INDEX, per_class=True)
    reference.update(predicted[None], torch.cat([m.flatten() for _, m in samples]).long()[None])
    for key in ("acc", "mIoU"):
        assert together[key].item() == pytest.approx(alone[key].item(), abs=1e-6)
        assert together[key].item() == pytest.approx(reference.compute()[key].item(), abs=1e-6)
