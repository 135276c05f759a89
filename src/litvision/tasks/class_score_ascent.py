"""Gradient ascent on one class score of a frozen pretrained classifier, the image being the only
parameter: what fooling images and class visualisation (Stanford cs231n assignment 3, network
visualisation) share.

The task's loss is minus its objective, so any optimiser descends it; the notes' step is
`litvision.optim.normalized_gradient.NormalizedGradientDescent`. The data is a
`StartImageDataModule`: the step budget, the image size and (for a fooling image) the photograph to
start from. The target class is checked against the classifier when the task is built, before any
image is read.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from litvision.data.visualization.start_image import StartImage, StartImageDataModule
from litvision.errors import ConfigError
from litvision.nets.frozen_classifier import FrozenClassifier
from litvision.tasks.image_parameter import ImageParameterTask

log = logging.getLogger(__name__)


def _significant(value: float) -> float:
    """Four significant digits: probabilities span many orders of magnitude (1e-9 is not 0)."""
    return float(f"{value:.4g}")


class ClassScoreAscentTask(ImageParameterTask):
    """`classifier`: a FrozenClassifier (e.g. `litvision.nets.frozen_classifier.imagenet_classifier`);
    `target_class`: a class index or an exact class name."""

    # what the task is called in messages
    what = "class-score ascent"

    def __init__(
        self,
        classifier: FrozenClassifier,
        target_class: int | str,
        **optim: Any,
    ) -> None:
        super().__init__(**{"scheduler_interval": "step", **optim})
        if not isinstance(classifier, FrozenClassifier):
            raise ConfigError(
                f"model.classifier must build a FrozenClassifier (e.g. litvision.nets.frozen_classifier."
                f"imagenet_classifier), got {type(classifier).__name__}"
            )
        self.classifier = classifier
        self.target_class = classifier.check_class(target_class, "model.target_class")
        self.start: StartImage | None = None
        self.start_ref: str | None = None  # data.image
        self.steps_taken = 0  # optimiser updates applied to the image
        self.budget = 0  # data.steps

    @property
    def frozen_net(self) -> FrozenClassifier:
        return self.classifier

    @property
    def target_name(self) -> str:
        return self.classifier.class_name(self.target_class)

    # --- set-up: everything checked before the first step -----------------------------------------
    def setup(self, stage: str) -> None:
        if stage != "fit":
            raise ConfigError(f"{self.what} optimises an image: run it with train=true and test=false")
        datamodule = self.trainer.datamodule
        if not isinstance(datamodule, StartImageDataModule):
            raise ConfigError(
                f"{self.what} needs data=start_image (a StartImageDataModule), got {type(datamodule).__name__}"
            )
        self.require_one_device(self.what)
        height, width = datamodule.size
        try:
            self.classifier.check_input_size(height, width)
        except ConfigError as err:
            raise ConfigError(f"data.size={[height, width]}: {err}") from None
        self.start = datamodule.start  # the trainer set the data module up first
        self.start_ref = datamodule.image
        self.budget = datamodule.steps
        if not self.has_images():
            self.start_from(self.initial_images(self.start))

    def initial_images(self, start: StartImage) -> Tensor:
        """The normalised (1, 3, H, W) image the ascent starts from."""
        raise NotImplementedError

    # --- scores -----------------------------------------------------------------------------------
    @torch.no_grad()
    def top_classes(self, images: Tensor, k: int = 5) -> list[list[dict]]:
        """The k best classes of each normalised image: [{index, name, probability, score}, ...]."""
        scores = self.classifier.forward_normalized(images.to(self.device))
        probabilities = scores.softmax(dim=1)
        top = probabilities.topk(min(k, scores.shape[1]), dim=1)
        return [
            [
                {
                    "index": i,
                    "name": self.classifier.class_name(i),
                    "probability": _significant(p),
                    "score": round(float(s[i]), 4),
                }
                for p, i in zip(ps, idx)
            ]
            for ps, idx, s in zip(top.values.tolist(), top.indices.tolist(), scores)
        ]

    @torch.no_grad()
    def target_standing(self, images: Tensor) -> dict:
        """The target class's score, probability and rank (1 = predicted) for one normalised image."""
        scores = self.classifier.forward_normalized(images.to(self.device))[0]
        probability = scores.softmax(dim=0)[self.target_class]
        rank = int((scores > scores[self.target_class]).sum()) + 1
        return {
            "score": round(float(scores[self.target_class]), 4),
            "probability": _significant(float(probability)),
            "rank": rank,
        }

    def log_target(self, scores: Tensor) -> None:
        """train/target_score, train/target_prob, train/target_rank of the image the scores belong to."""
        target = scores[:, self.target_class]
        rank = (scores > target[:, None]).sum(dim=1).float() + 1
        self.log("train/target_score", target.mean(), prog_bar=True, batch_size=1)
        self.log("train/target_prob", scores.softmax(dim=1)[:, self.target_class].mean(), prog_bar=True, batch_size=1)
        self.log("train/target_rank", rank.mean(), batch_size=1)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The step (which runs training_step through its closure), then `after_step()` on the moved
        image: here rather than in on_train_batch_end so that callbacks already see its result."""
        stepped_before = self.steps_taken
        super().optimizer_step(*args, **kwargs)
        if self.steps_taken > stepped_before:
            with torch.no_grad():
                self.after_step()

    def count_step(self) -> None:
        """Called by training_step when it returns a loss: the optimiser will move the image."""
        self.steps_taken += 1

    def after_step(self) -> None:
        """In-place changes to the image after each optimiser step (clamping, blurring, ...)."""
