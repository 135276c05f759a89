"""A GAN whose FID classifier checkpoint is missing trains it first, as a missing data set is prepared: under
the preparation lock of the checkpoint's path (a second run waits, then finds the file), with the command the
GAN's config names (`model.classifier.train_command`, e.g. `python train.py experiment=digits_classifier
data=digits data.image_size=28`), run as its own litvision run with its own folder under outputs/. The run
says so before it starts and its summary names the file (litvision.utils.written_elsewhere)."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig

from litvision.data.core.prepare import data_lock
from litvision.errors import DataError
from litvision.runtime.run_dir import RUN_ID_ENV
from litvision.utils import written_elsewhere

log = logging.getLogger(__name__)

CLASSIFIER_FEATURES = "litvision.nets.gan_features.ClassifierFeatures"


def _train_overrides(command: str) -> list[str]:
    """The overrides of `python train.py <overrides>`."""
    words = shlex.split(command)
    start = next((i + 1 for i, w in enumerate(words) if w.endswith("train.py")), None)
    if start is None:
        raise DataError(f"model.classifier.train_command={command!r} is not a `python train.py ...` command")
    return words[start:]


def prepare_fid_classifier(cfg: DictConfig) -> None:
    """Train the GAN's FID classifier when its checkpoint is missing (see the module docstring)."""
    model = cfg.get("model") or {}
    classifier = model.get("classifier") if hasattr(model, "get") else None
    if not classifier or classifier.get("_target_") != CLASSIFIER_FEATURES:
        return
    if model.get("fid_features", "classifier") != "classifier" or not classifier.get("train_command"):
        return
    checkpoint = Path(classifier.checkpoint)
    if checkpoint.is_file():
        return
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with data_lock(checkpoint, f"the FID classifier {checkpoint}"):
        if checkpoint.is_file():  # another run trained it while this one waited
            return
        overrides = _train_overrides(classifier.train_command)
        log.info(
            "FID classifier %s is missing: training it first (%s; its own run under %s), as data is prepared",
            checkpoint,
            classifier.train_command,
            Path(cfg.paths.log_dir).absolute(),
        )
        args = [
            *overrides,
            f"paths.data_dir={Path(cfg.paths.data_dir).absolute()}",
            f"paths.log_dir={Path(cfg.paths.log_dir).absolute()}",
            f"callbacks.export_checkpoint.path={checkpoint.absolute()}",
        ]
        env = {k: v for k, v in os.environ.items() if k != RUN_ID_ENV}  # the classifier's run gets a folder of its own
        done = subprocess.run([sys.executable, "-m", "litvision.cli", "train", *args], env=env, check=False)
        if done.returncode != 0 or not checkpoint.is_file():
            raise DataError(
                f"training the FID classifier {checkpoint} failed (exit status {done.returncode}, its messages are "
                f"above): fix what they say and run `{classifier.train_command}` (it writes that file), or point "
                "model.classifier.checkpoint at another"
            )
    log.info("prepared the FID classifier %s", checkpoint)
    written_elsewhere.record(checkpoint, "the FID classifier, trained first: it was missing")
