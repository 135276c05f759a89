"""Feature extractors that measure generated images (FID, KID) and classify them (the collapse
monitor). Both take images in [0, 1] (B, C, H, W).

- `ClassifierFeatures`: offline, a classifier this framework trained on the same data (a
  ClassificationTask checkpoint whose net has `features()`, e.g. `DigitClassifier`); FID/KID use its
  penultimate features, the collapse monitor its predictions.
- `InceptionFeatures`: the standard 2048-d pool features of the FID Inception-v3 (torchmetrics via
  torch-fidelity), whose weights must be downloadable or already in the torch hub cache.

Both are frozen and left out of the GAN's checkpoints (`FrozenNet`).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from torch import Tensor

from litvision.errors import CheckpointMismatchError, ConfigError, DataError, WeightsUnavailableError
from litvision.nets.frozen import FrozenNet
from litvision.runtime.checkpoints import load_litvision_checkpoint

CLASSIFICATION_TASK = "litvision.tasks.classification.ClassificationTask"


class ClassifierFeatures(FrozenNet):
    """The classifier in `checkpoint`, checked to have been trained on `dataset` at `image_size`
    pixels (what the GAN generates). `train_command` tells the user how to make the checkpoint."""

    def __init__(self, checkpoint: str, dataset: str, image_size: int, train_command: str = "") -> None:
        super().__init__(mean=(0.5,), std=(0.5,))  # DigitClassifier maps [0, 1] to [-1, 1] itself
        path = Path(checkpoint)
        train = f"`{train_command}`" if train_command else "the digits_classifier experiment on this data"
        if not path.is_file():
            raise DataError(
                f"FID classifier checkpoint {path} does not exist: train it first with {train} (it writes that "
                "file), or point model.classifier.checkpoint at another"
            )
        ckpt = load_litvision_checkpoint(path)
        meta, config = ckpt["litvision"], ckpt["litvision"].get("config") or {}
        data = config.get("data") or {}
        if meta.get("task") != CLASSIFICATION_TASK or "net" not in (config.get("model") or {}):
            raise CheckpointMismatchError(
                f"{path} is not a classifier checkpoint (it was written by {meta.get('task')}); train one with {train}"
            )
        trained_on = (data.get("dataset"), data.get("image_size"))
        if trained_on != (dataset, image_size):
            raise CheckpointMismatchError(
                f"FID classifier {path} was trained on {trained_on[0]} at {trained_on[1]} px, but this run "
                f"generates {dataset} at {image_size} px: train one for this data with {train} and point "
                "model.classifier.checkpoint at what it writes"
            )
        self.net = hydra.utils.instantiate(config["model"]["net"])
        if not callable(getattr(self.net, "features", None)):
            raise CheckpointMismatchError(f"the net of {path} ({type(self.net).__name__}) has no features() layer")
        self.net.load_state_dict({k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()})
        self.num_features = int(self.net.num_features)
        self.num_classes = int(self.net.num_classes)
        self.class_names = tuple(meta.get("class_names") or map(str, range(self.num_classes)))
        self.checkpoint = str(path)
        self.freeze()

    def forward(self, images: Tensor) -> Tensor:
        return self.net.features(images)

    def logits(self, images: Tensor) -> Tensor:
        return self.net(images)


class InceptionFeatures(FrozenNet):
    """FID's Inception-v3 pool features (2048-d). Grey images are repeated to three channels; the
    network resizes to 299x299 itself."""

    WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"

    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ModuleNotFoundError as err:  # pragma: no cover - torch-fidelity is a dependency
            raise ConfigError("Inception features need torch-fidelity: pip install torch-fidelity") from err
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        if weights_path is None and (cache / self.WEIGHTS).is_file():
            weights_path = str(cache / self.WEIGHTS)
        try:
            self.net = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights_path)
        except Exception as err:  # URLError without network, a truncated file, ...
            raise WeightsUnavailableError(
                f"FID Inception weights {self.WEIGHTS} could not be loaded ({type(err).__name__}: {err}). Download "
                "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + self.WEIGHTS + " and put it "
                f"in {cache}/ (or set model.inception_weights=<file>), or use model.fid_features=classifier"
            ) from err
        self.num_features = 2048
        self.freeze()

    def forward(self, images: Tensor) -> Tensor:
        pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        return self.net(pixels).reshape(len(pixels), -1)
