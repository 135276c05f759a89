"""Module paths of litvision before the package took its staged layout (December 2026), for checkpoints
written earlier: their task identity and the `_target_`s of their recorded config name the old modules."""

from __future__ import annotations

from typing import Any

MOVED = {
    "litvision.callbacks.box_predictions": "litvision.callbacks.writers.boxes",
    "litvision.callbacks.caption_grid": "litvision.callbacks.grids.captions",
    "litvision.callbacks.caption_writer": "litvision.callbacks.writers.captions",
    "litvision.callbacks.class_predictions": "litvision.callbacks.writers.classes",
    "litvision.callbacks.detection_grid": "litvision.callbacks.grids.detection",
    "litvision.callbacks.detection_images": "litvision.callbacks.grids.detection",
    "litvision.callbacks.gan_predictions": "litvision.callbacks.writers.gan_samples",
    "litvision.callbacks.gan_samples": "litvision.callbacks.grids.gan_samples",
    # the staged layout's R-CNN grid and writer, merged into the detection ones (one format for SSD and R-CNN)
    "litvision.callbacks.grids.rcnn_detection": "litvision.callbacks.grids.detection",
    "litvision.callbacks.heldout_stylised": "litvision.callbacks.grids.heldout_stylised",
    "litvision.callbacks.image_grid": "litvision.callbacks.grids.base",
    "litvision.callbacks.image_outputs": "litvision.callbacks.grids.image_outputs",
    "litvision.callbacks.mask_predictions": "litvision.callbacks.writers.masks",
    "litvision.callbacks.prediction_writer": "litvision.callbacks.writers.base",
    "litvision.callbacks.rcnn_predictions": "litvision.callbacks.writers.boxes",
    "litvision.callbacks.segmentation_grid": "litvision.callbacks.grids.segmentation",
    "litvision.callbacks.style_transfer_images": "litvision.callbacks.grids.style_transfer",
    "litvision.callbacks.stylised_predictions": "litvision.callbacks.writers.stylised",
    "litvision.callbacks.writers.rcnn_boxes": "litvision.callbacks.writers.boxes",
    "litvision.checkpoint_experiment": "litvision.runtime.eval_replay",
    "litvision.cluster": "litvision.runtime.cluster",
    "litvision.config_check": "litvision.runtime.config_check",
    "litvision.console": "litvision.runtime.console",
    "litvision.data.archive": "litvision.data.core.archive",
    "litvision.data.banana_csv": "litvision.data.formats.banana_csv",
    "litvision.data.bananas": "litvision.data.detection.bananas",
    "litvision.data.base": "litvision.data.core.base",
    "litvision.data.caption_datasets": "litvision.data.captions.datasets",
    "litvision.data.caption_features": "litvision.data.captions.features",
    "litvision.data.captioning": "litvision.data.captions.datamodule",
    "litvision.data.cifar10": "litvision.data.classification.cifar10",
    "litvision.data.coco_captions": "litvision.data.captions.coco",
    "litvision.data.coco_instances": "litvision.data.detection.coco_instances",
    "litvision.data.coco_writer": "litvision.data.formats.coco",
    "litvision.data.content_images": "litvision.data.style.content_images",
    "litvision.data.cs231n_captions": "litvision.data.captions.cs231n",
    "litvision.data.download": "litvision.data.core.download",
    "litvision.data.epoch_shuffle": "litvision.data.core.epoch_shuffle",
    "litvision.data.idx": "litvision.data.formats.idx",
    "litvision.data.imagefolder": "litvision.data.classification.imagefolder",
    "litvision.data.images": "litvision.data.core.images",
    "litvision.data.instances": "litvision.data.formats.instances",
    "litvision.data.labelled_images": "litvision.data.visualization.labelled_images",
    "litvision.data.mnist": "litvision.data.digits.mnist",
    "litvision.data.padding": "litvision.data.core.padding",
    "litvision.data.predict_images": "litvision.data.core.predict_images",
    "litvision.data.prepare": "litvision.data.core.prepare",
    "litvision.data.repeated_batch": "litvision.data.core.repeated_batch",
    "litvision.data.start_image": "litvision.data.visualization.start_image",
    "litvision.data.style_images": "litvision.data.style.style_images",
    "litvision.data.voc": "litvision.data.segmentation.voc",
    "litvision.data.voc_instances": "litvision.data.detection.voc_instances",
    "litvision.data.voc_labels": "litvision.data.formats.voc",
    "litvision.data.vocabulary": "litvision.data.captions.vocabulary",
    "litvision.export": "litvision.inference.export",
    "litvision.gallery": "litvision.reports.augmentation_gallery",
    "litvision.hparams": "litvision.reports.hparams",
    "litvision.predict": "litvision.inference.predict",
    "litvision.preflight": "litvision.runtime.build",
    "litvision.requeue": "litvision.runtime.requeue",
    "litvision.run": "litvision.runtime.run",
    "litvision.run_dir": "litvision.runtime.run_dir",
    "litvision.run_summary": "litvision.reports.run_summary",
    "litvision.sampling": "litvision.inference.sampling",
    "litvision.sweep_summary": "litvision.reports.sweep_summary",
    "litvision.tasks.detection": "litvision.tasks.ssd",
    "litvision.trial_table": "litvision.reports.trial_table",
    "litvision.utils.checkpoints": "litvision.runtime.checkpoints",
}


def current_path(dotted: str) -> str:
    """`dotted` (a module or module.Class) under today's layout; unchanged when it did not move."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        if module in MOVED:
            return ".".join([MOVED[module], *parts[end:]])
    return dotted


def current_config(node: Any) -> Any:
    """A recorded config with every `_target_` under today's layout."""
    if isinstance(node, dict):
        return {
            k: current_path(v) if k == "_target_" and isinstance(v, str) else current_config(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [current_config(v) for v in node]
    return node
