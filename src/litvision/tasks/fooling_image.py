"""Fooling images (Stanford cs231n assignment 3, network visualisation): from a photograph and any target
class, gradient ascent on the target's score with the notes' normalised-gradient step (`X += lr * dX /
||dX||`, lr 1) until the classifier predicts the target, or until the step budget (`data.steps`) runs
out. A run that runs out says so, in the log and in its outputs; it never reports success it did not
reach.

Two things beyond the notes, both so that the result is a real image that really fools: after each
step the image is clamped to real pixel values ([0, 1] before normalising), and (`quantize`, on by
default) the classifier scores the image as its PNG stores it, 8 bits per channel, with the gradient
passed straight through the rounding. Success is judged on that image, so the saved fooling.png is
classified as the target when read back.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from torch import Tensor

from litvision.data.core.images import as_8bit
from litvision.data.visualization.start_image import StartImage
from litvision.errors import ConfigError
from litvision.nets.frozen_classifier import FrozenClassifier
from litvision.tasks.class_score_ascent import ClassScoreAscentTask
from litvision.utils.captions import caption_below, tile

log = logging.getLogger(__name__)

# Returning None from training_step is how the step that finds the image already fooled skips the
# update (the notes' `break`); Lightning would warn about it once.
warnings.filterwarnings("ignore", r"`training_step` returned `None`", UserWarning)


def _percent(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else f"{100 * p:.2g}%"


class FoolingImageTask(ClassScoreAscentTask):
    """`difference_scale`: how much the displayed difference (fooling - original, around mid-grey)
    is magnified (cs231n shows it 10x)."""

    what = "a fooling image"

    def __init__(
        self,
        classifier: FrozenClassifier,
        target_class: int | str,
        quantize: bool = True,
        difference_scale: float = 10.0,
        **optim: Any,
    ) -> None:
        super().__init__(classifier, target_class, **optim)
        if not difference_scale > 0:
            raise ConfigError(f"model.difference_scale must be > 0, got {difference_scale!r}")
        self.quantize = bool(quantize)
        self.difference_scale = float(difference_scale)
        self.fooled_after: int | None = None  # updates after which the image was classified as the target
        self.before: dict | None = None  # the original's top-5 and the target's standing
        self._result: dict | None = None

    def initial_images(self, start: StartImage) -> Tensor:
        if start.pixels is None:
            raise ConfigError(
                "a fooling image starts from a photograph: set data.image (a file or e.g. skimage:chelsea)"
            )
        return self.classifier.input_normalization(start.pixels)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        original = self.classifier.input_normalization(self.start.pixels)
        self.before = {"top5": self.top_classes(original)[0], "target": self.target_standing(original)}
        predicted = self.before["top5"][0]
        if predicted["index"] == self.target_class:
            log.warning(
                "The original image is already classified as the target %r (class %d, p=%s): there is nothing "
                "to fool, and the fooling image is the original itself (0 steps).",
                self.target_name,
                self.target_class,
                _percent(predicted["probability"]),
            )

    def scored_images(self) -> Tensor:
        """The images the classifier scores: with `quantize`, the parameter as its PNG stores it (the
        value exactly that) with the parameter's gradient (straight through the rounding)."""
        images = self.synthesised
        if not self.quantize:
            return images
        normalization = self.classifier.input_normalization
        with torch.no_grad():
            stored = normalization(as_8bit(normalization.denormalize(images)))
        return stored + (images - images.detach())

    # --- optimisation: the notes' loop, one iteration per step -------------------------------------
    def on_train_batch_start(self, batch: StartImage, batch_idx: int) -> int | None:
        return -1 if self.fooled_after is not None else None  # fooled: skip the rest of the budget

    def training_step(self, batch: StartImage, batch_idx: int) -> Tensor | None:
        scores = self.classifier.forward_normalized(self.scored_images())
        self.log_target(scores)
        pixels = self.classifier.input_normalization.denormalize(self.synthesised.detach())
        self.log("train/linf", (pixels - batch.pixels).abs().max(), batch_size=1)
        fooled = int(scores.argmax(dim=1)[0]) == self.target_class
        self.log("train/fooled", float(fooled), batch_size=1)
        if fooled:  # stop before stepping, as the notes' loop breaks
            self.fooled_after = self.steps_taken
            return None
        self.count_step()
        return -scores[:, self.target_class].sum()

    def after_step(self) -> None:
        self.classifier.clamp_to_pixels_(self.synthesised)

    def on_train_epoch_end(self) -> None:
        if self.fooled_after is not None:
            self.trainer.should_stop = True  # done, whatever trainer.max_epochs says

    def on_train_end(self) -> None:
        self.result()  # says in the log whether it fooled (once), with or without the output callback

    # --- results ----------------------------------------------------------------------------------
    def fooling_pixels(self) -> Tensor:
        """The fooling image as saved (and as scored, with `quantize`), (1, 3, H, W) in [0, 1]."""
        pixels = self.classifier.input_normalization.denormalize(self.synthesised.detach())  # clamped
        return as_8bit(pixels) if self.quantize else pixels

    def result(self) -> dict:
        """The outcome after fit: fooled or not, in how many steps, before/after top-5, distances.
        Computed (and logged) once."""
        if self._result is not None:
            return self._result
        if self.before is None or not self.has_images():
            raise RuntimeError("no fooling image yet: result() is for use after fit()")
        final = self.classifier.input_normalization(self.fooling_pixels().to(self.device))
        after = {"top5": self.top_classes(final)[0], "target": self.target_standing(final)}
        fooled = after["top5"][0]["index"] == self.target_class
        if fooled and self.fooled_after is None:  # the last update of the budget did it
            self.fooled_after = self.steps_taken
        original = self.start.pixels
        difference = self.fooling_pixels().cpu() - original.cpu()
        linf = float(difference.abs().max())
        target = {"index": self.target_class, "name": self.target_name}
        predicted = after["top5"][0]
        if fooled:
            message = (
                f"Fooled: {self.classifier.name} classifies the fooling image as the target {self.target_name!r} "
                f"(class {self.target_class}, p={_percent(predicted['probability'])}) after {self.fooled_after} "
                f"step(s) of at most {self.budget}; it differs from the original by at most "
                f"{round(linf * 255)}/255 per pixel value."
            )
            if self.fooled_after == 0:
                message += " (The original was already classified as the target.)"
        else:
            message = (
                f"NOT fooled: after all {self.steps_taken} steps of the budget (data.steps={self.budget}) "
                f"{self.classifier.name} still classifies the image as {predicted['name']!r} "
                f"(p={_percent(predicted['probability'])}); the target {self.target_name!r} (class "
                f"{self.target_class}) has p={_percent(after['target']['probability'])}, rank "
                f"{after['target']['rank']}. Raise data.steps or model.optimizer.lr."
            )
        (log.info if fooled else log.warning)("%s", message)
        self._result = {
            "fooled": fooled,
            "message": message,
            "steps": self.fooled_after if fooled else self.steps_taken,
            "budget": self.budget,
            "classifier": self.classifier.name,
            "image": self.start_ref,
            "target": target,
            "scored_as_saved_8bit": self.quantize,
            "before": self.before,
            "after": after,
            "difference": {
                "linf": round(linf, 6),
                "linf_8bit_levels": round(linf * 255),
                "l2": round(float(difference.norm()), 6),
                "mean_abs": round(float(difference.abs().mean()), 6),
            },
        }
        return self._result

    # --- display and outputs (pixels in [0, 1]) ----------------------------------------------------
    def magnified_difference(self) -> Tensor:
        """(1, 3, H, W): mid-grey plus `difference_scale` times (fooling - original), clamped."""
        difference = self.fooling_pixels().cpu() - self.start.pixels.cpu()
        return (0.5 + self.difference_scale * difference).clamp(0, 1)

    def display_images(self) -> dict[str, Tensor]:
        return {"fooling": self.fooling_pixels().cpu(), "difference": self.magnified_difference()}

    def output_files(self) -> dict[str, Tensor | dict]:
        """original.png, fooling.png, difference_x<scale>.png, fooling.png's story with the top-5
        before and after (fooling_top5.png) and everything as numbers (fooling.json)."""
        result = self.result()
        scale = f"{self.difference_scale:g}"

        def lines(top5: list[dict]) -> list[str]:
            return [f"{_percent(c['probability']):>6} {c['name']} ({c['index']})" for c in top5]

        original, fooling = self.start.pixels[0].cpu(), self.fooling_pixels()[0].cpu()
        difference = self.magnified_difference()[0]
        verdict = (
            f"fooled after {result['steps']} step(s)"
            if result["fooled"]
            else f"NOT fooled ({result['steps']} steps, budget spent)"
        )
        target = f"target: {self.target_name} ({self.target_class})"
        panel = tile(
            [
                caption_below(original, ["original, top-5:", *lines(result["before"]["top5"])]),
                caption_below(fooling, [f"{verdict}, top-5:", *lines(result["after"]["top5"])]),
                caption_below(
                    difference,
                    [f"difference x{scale}", target, f"L-inf {result['difference']['linf_8bit_levels']}/255"],
                ),
            ],
            columns=3,
        )
        return {
            "original.png": original,
            "fooling.png": fooling,
            f"difference_x{scale}.png": difference,
            "fooling_top5.png": panel,
            "fooling.json": result,
        }
