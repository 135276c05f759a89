"""Class visualisation (Stanford cs231n assignment 3, network visualisation, after Simonyan et al. and
Yosinski et al.): from random noise, gradient ascent on one class score with an explicit L2 regulariser,

    I* = argmax_I  s_y(I) - l2_reg * ||I||^2,

and the implicit regularisers of the notes' recipe: a random jitter of up to `max_jitter` pixels
before each step (the image rolled, so the gradient is of the rolled image), clamping to real pixel
values after each step, and a Gaussian blur (sigma `blur_sigma`) every `blur_every` steps. The step is
the normalised one, `I += lr * dI / ||dI||`. The cs231n assignment's values are the defaults:
l2_reg 1e-3, lr 25, 100 steps, blur every 10 steps with sigma 0.5, jitter up to 16 pixels, noise
from a standard normal in the network's normalised units.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from litvision.data.visualization.start_image import StartImage
from litvision.errors import ConfigError
from litvision.nets.frozen_classifier import FrozenClassifier
from litvision.tasks.class_score_ascent import ClassScoreAscentTask

log = logging.getLogger(__name__)


def blur_(images: Tensor, sigma: float) -> Tensor:
    """Gaussian blur in place, the kernel cut at 4 sigma as scipy's gaussian_filter1d (which the
    notes use) cuts it."""
    radius = int(4 * sigma + 0.5)
    if radius == 0:
        return images
    size = 2 * radius + 1
    return images.copy_(TF.gaussian_blur(images, [size, size], [sigma, sigma]))


class ClassVisualizationTask(ClassScoreAscentTask):
    """`l2_reg`, `max_jitter` (pixels, 0: none), `blur_every` (steps, 0: never), `blur_sigma`,
    `noise_std` (of the starting noise, in the classifier's normalised units) as in the module notes.
    With data.image set it starts from that photograph instead of noise."""

    what = "class visualisation"

    def __init__(
        self,
        classifier: FrozenClassifier,
        target_class: int | str,
        l2_reg: float = 1e-3,
        max_jitter: int = 16,
        blur_every: int = 10,
        blur_sigma: float = 0.5,
        noise_std: float = 1.0,
        **optim: Any,
    ) -> None:
        super().__init__(classifier, target_class, **optim)
        for key, value in (("l2_reg", l2_reg), ("blur_sigma", blur_sigma), ("noise_std", noise_std)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"model.{key} must be a number >= 0, got {value!r}")
        for key, value in (("max_jitter", max_jitter), ("blur_every", blur_every)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"model.{key} must be a whole number >= 0 (0: off), got {value!r}")
        self.l2_reg = float(l2_reg)
        self.max_jitter = max_jitter
        self.blur_every = blur_every
        self.blur_sigma = float(blur_sigma)
        self.noise_std = float(noise_std)
        self.start_standing: dict | None = None
        self._result: dict | None = None

    def initial_images(self, start: StartImage) -> Tensor:
        if start.pixels is not None:
            return self.classifier.input_normalization(start.pixels)
        return torch.randn(1, 3, *start.size) * self.noise_std  # seeded by the run

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.start_standing is None:
            self.start_standing = self.target_standing(self.synthesised.detach())

    # --- optimisation -----------------------------------------------------------------------------
    def training_step(self, batch: StartImage, batch_idx: int) -> Tensor:
        image = self.synthesised
        if self.max_jitter:
            dy, dx = torch.randint(0, self.max_jitter + 1, (2,)).tolist()
            seen = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
        else:
            seen = image
        scores = self.classifier.forward_normalized(seen)
        penalty = self.l2_reg * image.square().sum()
        objective = scores[:, self.target_class].sum() - penalty
        self.log_target(scores)
        self.log("train/l2_penalty", penalty, batch_size=1)
        self.log("train/objective", objective, batch_size=1)
        self.count_step()
        return -objective

    def after_step(self) -> None:
        image = self.synthesised
        self.classifier.clamp_to_pixels_(image)
        if self.blur_every and (self.steps_taken - 1) % self.blur_every == 0:  # steps 0, blur_every, ...
            blur_(image, self.blur_sigma)

    def on_train_end(self) -> None:
        self.result()

    # --- results ----------------------------------------------------------------------------------
    def result(self) -> dict:
        """The target's standing at the start and at the end (unjittered image), and the final top-5."""
        if self._result is not None:
            return self._result
        if self.start_standing is None or not self.has_images():
            raise RuntimeError("no image yet: result() is for use after fit()")
        final = self.synthesised.detach()
        end = self.target_standing(final)
        top5 = self.top_classes(final)[0]
        log.info(
            "Class visualisation of %r (class %d) after %d steps: score %.2f -> %.2f, probability %.3g -> %.3g, "
            "rank %d -> %d (top-1 now %r)",
            self.target_name,
            self.target_class,
            self.steps_taken,
            self.start_standing["score"],
            end["score"],
            self.start_standing["probability"],
            end["probability"],
            self.start_standing["rank"],
            end["rank"],
            top5[0]["name"],
        )
        self._result = {
            "classifier": self.classifier.name,
            "target": {"index": self.target_class, "name": self.target_name},
            "steps": self.steps_taken,
            "start": "noise" if self.start_ref is None else self.start_ref,
            "target_at_start": self.start_standing,
            "target_at_end": end,
            "top5_at_end": top5,
            "settings": {
                "l2_reg": self.l2_reg,
                "max_jitter": self.max_jitter,
                "blur_every": self.blur_every,
                "blur_sigma": self.blur_sigma,
                "noise_std": self.noise_std,
            },
        }
        return self._result

    def display_images(self) -> dict[str, Tensor]:
        return {"class_visualization": self.to_pixels(self.synthesised)}

    def output_files(self) -> dict[str, Tensor | dict]:
        return {
            "class_visualization.png": self.to_pixels(self.synthesised)[0],
            "class_visualization.json": self.result(),
        }
