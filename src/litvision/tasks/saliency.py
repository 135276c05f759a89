"""Saliency maps of a pretrained classifier (Stanford cs231n assignment 3, network visualisation): for each
image, the absolute gradient of one class score with respect to the pixels, the maximum over the colour
channels. The class is the image's label, or the class the classifier predicts when it has none.

Nothing is trained: the maps are a test pass (`train=false test=true`; litvision.runtime.run runs it
without a checkpoint, and refuses train=true, because the task `trains_nothing`). Lightning runs
test passes under inference mode, which forbids the input gradients the maps need, so the step
leaves it for the gradient (the experiment also sets trainer.inference_mode=false).

Logged: test/label_prob (the mean probability of the explained classes) and, when labels are given,
test/acc (how many labelled images the classifier gets right).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from litvision.data.visualization.labelled_images import LabelledImages, LabelledImagesDataModule
from litvision.errors import ConfigError
from litvision.nets.frozen_classifier import FrozenClassifier
from litvision.ops.saliency import saliency_maps
from litvision.tasks.base import VisionTask
from litvision.utils.captions import caption_below, tile
from litvision.utils.colormap import hot_colormap

log = logging.getLogger(__name__)


class SaliencyTask(VisionTask):
    """`classifier`: a FrozenClassifier (e.g. `litvision.nets.frozen_classifier.imagenet_classifier`)."""

    trains_nothing = True

    def __init__(self, classifier: FrozenClassifier, **speed: Any) -> None:
        super().__init__(optimizer=None, **speed)  # nothing is optimised
        if not isinstance(classifier, FrozenClassifier):
            raise ConfigError(
                f"model.classifier must build a FrozenClassifier (e.g. litvision.nets.frozen_classifier."
                f"imagenet_classifier), got {type(classifier).__name__}"
            )
        self.classifier = classifier
        self.labels: Tensor | None = None  # (N,), -1: the predicted class
        self.refs: tuple[str, ...] = ()
        self.maps: dict[str, Tensor] | None = None

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        if not isinstance(datamodule, LabelledImagesDataModule):
            raise ConfigError(
                f"saliency maps need data=labelled_images (a LabelledImagesDataModule), got {type(datamodule).__name__}"
            )
        height, width = datamodule.size
        try:
            self.classifier.check_input_size(height, width)
        except ConfigError as err:
            raise ConfigError(f"data.size={[height, width]}: {err}") from None
        labels = [
            -1 if label is None else self.classifier.check_class(label, f"data.labels[{i}]")
            for i, label in enumerate(datamodule.labels)
        ]
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.refs = datamodule.refs

    def test_step(self, batch: LabelledImages, batch_idx: int) -> None:
        with torch.inference_mode(False):
            # a copy made outside inference mode can take part in autograd
            # the gradient with respect to the normalised image, as the notes take it
            images = self.classifier.input_normalization(batch.images.clone())
            saliency, used, scores = saliency_maps(
                self.classifier.forward_normalized, images, self.labels.clone().to(images.device)
            )
        probabilities = scores.softmax(dim=1)
        given = self.labels.to(used.device) >= 0
        self.log("test/label_prob", probabilities.gather(1, used[:, None]).mean(), batch_size=len(used))
        if given.any():
            correct = (scores.argmax(dim=1) == used)[given].float().mean()
            self.log("test/acc", correct, batch_size=int(given.sum()))
        self.maps = {
            "pixels": batch.images.detach().cpu(),
            "saliency": saliency.cpu(),
            "labels": used.cpu(),
            "given": given.cpu(),
            "probabilities": probabilities.cpu(),
        }

    def on_test_end(self) -> None:
        for row in self.summary():
            top1 = row["top5"][0]
            log.info(
                "%s: saliency of %r (class %d, %s, p=%.3g); top-1 %r (p=%.3g)",
                row["image"],
                row["class"]["name"],
                row["class"]["index"],
                row["class"]["source"],
                row["probability"],
                top1["name"],
                top1["probability"],
            )

    # --- outputs -------------------------------------------------------------------------------
    def summary(self) -> list[dict]:
        """Per image: the explained class (and whether it was given or predicted), its probability,
        the top-5, and the map's maximum."""
        if self.maps is None:
            raise RuntimeError("no saliency maps yet: summary() is for use after test()")
        rows = []
        for i, ref in enumerate(self.refs):
            probs = self.maps["probabilities"][i]
            label = int(self.maps["labels"][i])
            top = probs.topk(min(5, len(probs)))
            rows.append(
                {
                    "image": ref,
                    "class": {
                        "index": label,
                        "name": self.classifier.class_name(label),
                        "source": "label" if self.maps["given"][i] else "predicted",
                    },
                    "probability": float(f"{float(probs[label]):.4g}"),
                    "top5": [
                        {
                            "index": int(j),
                            "name": self.classifier.class_name(int(j)),
                            "probability": float(f"{float(p):.4g}"),
                        }
                        for p, j in zip(top.values, top.indices)
                    ],
                    "saliency_max": float(self.maps["saliency"][i].max()),
                }
            )
        return rows

    def output_files(self) -> dict[str, Tensor | list]:
        """saliency.png: each image beside its map (each map scaled to its own maximum, "hot"
        colours), captioned with the class explained; saliency.json: summary()."""
        rows = self.summary()
        tiles = []
        for i, row in enumerate(rows):
            saliency = self.maps["saliency"][i]
            heat = hot_colormap(saliency / saliency.max().clamp_min(torch.finfo(saliency.dtype).tiny))
            source = "label" if row["class"]["source"] == "label" else "predicted"
            top1 = row["top5"][0]
            tiles.append(
                caption_below(
                    self.maps["pixels"][i],
                    [
                        row["image"],
                        f"{source}: {row['class']['name']} ({row['class']['index']})",
                    ],
                )
            )
            tiles.append(
                caption_below(
                    heat,
                    [
                        f"p({row['class']['name']}) = {row['probability']:.3g}",
                        f"top-1: {top1['name']} ({top1['probability']:.3g})",
                    ],
                )
            )
        return {"saliency.png": tile(tiles, columns=2), "saliency.json": rows}
