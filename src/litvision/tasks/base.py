"""VisionTask: what every litvision task shares, and the whole contract between a task and the rest of
litvision. The runner (litvision.runtime), predict/export (litvision.inference) and the callbacks use a task
only through what is declared here, each with its default; a task overrides what applies to it.

Shared machinery: the optimiser (a partial from the config, per-group learning rates), the optional
scheduler, per-stage metrics, and an identity stamp in each checkpoint so that a checkpoint from another
task or net is refused with a clear error instead of a wall of missing keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from litvision.errors import ConfigError

STAGES = ("train", "val", "test")
# torch.compile's modes (model.compile=<mode>)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

# export_spec's source of real pixels: photos(n, height, width) -> (n, 3, height, width) uint8 photographs
Photos = Callable[[int, int, int], Tensor]
# the input contract of a uint8 image batch, as every net that owns its normalisation takes it
IMAGE_INPUT = {"dtype": "uint8", "range": [0, 255], "layout": "NCHW, RGB", "normalisation": "inside the model"}


@dataclass
class ExportSpec:
    """What export.py writes for a task (litvision.inference.export): a module without Lightning, the inputs it is
    traced with and the real inputs it is checked on against PyTorch (other sizes where a size is dynamic),
    names, dynamic axes ({input name: {axis: dimension name}}, one name = one size across inputs) and the
    input contract written beside the file (per input and output: dtype, range, layout, normalisation, meaning)."""

    module: nn.Module
    example: tuple[Tensor, ...]
    check: tuple[Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic: dict[str, dict[int, str]]
    inputs: dict[str, dict]
    outputs: dict[str, dict]
    notes: list[str] = field(default_factory=list)
    tolerance: float = 1e-4  # largest |exported - PyTorch| accepted on the check inputs (float outputs)
    min_size: int = 1  # the least height/width of a dynamic image size
    # ONNX through torch.export ("dynamo") or the TorchScript-based exporter ("torchscript": torchvision's detectors,
    # whose data-dependent detection counts torch.export cannot trace)
    onnx_exporter: str = "dynamo"


class VisionTask(L.LightningModule):
    # --- the contract: class attributes --------------------------------------------------------
    # predict.py's writer class (a litvision.callbacks.writers.base.PredictionWriter); None: no prediction
    prediction_writer: type | None = None
    # predict.py samples from seeded noise (litvision.inference.sampling) instead of reading image files
    generates_samples: bool = False
    # nothing to train (saliency maps of a pretrained classifier): the runner refuses train=true and tests as built
    trains_nothing: bool = False
    # state_dict keys whose shape comes from the data, not the config: verify_checkpoint does not compare
    # their shapes (the task adopts the checkpoint's in on_load_checkpoint)
    data_shaped_state: tuple[str, ...] = ()
    # the least score a predicted box needs to be drawn (grids and predict's PNGs; every box is in the JSON)
    draw_score_threshold: float = 0.5
    # why model.compile does not apply to this task (None: it does); e.g. detectors whose shapes change per image
    compile_unsupported: str | None = None
    # the option with which the task averages its own weights (GAN: model.ema_decay); None: callbacks/ema applies
    own_weight_average: str | None = None

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer] | None,
        scheduler: Callable[..., Any] | None = None,
        param_groups: Sequence[Mapping] = (),
        scheduler_interval: str = "epoch",
        scheduler_monitor: str | None = None,
        compile: str | None = None,
        channels_last: bool = False,
    ) -> None:
        """The optimiser arguments and the speed switches every task takes (subclasses forward them as
        **optim, never repeat them). `compile`: torch.compile's mode for the nets of `speed_modules` (None:
        not compiled); `channels_last`: those nets' weights in NHWC memory format (tensor cores, cuDNN)."""
        super().__init__()
        if scheduler_interval not in ("epoch", "step"):
            raise ConfigError(f"model.scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if compile is not None and compile not in COMPILE_MODES:
            raise ConfigError(
                f"model.compile={compile!r} is not valid: expected null or one of {', '.join(COMPILE_MODES)}"
            )
        if compile is not None and self.compile_unsupported:
            raise ConfigError(
                f"model.compile does not apply to {type(self).__name__}: {self.compile_unsupported}; "
                "leave model.compile=null"
            )
        if not isinstance(channels_last, bool):
            raise ConfigError(f"model.channels_last must be true or false, got {channels_last!r}")
        self.compile_mode, self.channels_last = compile, channels_last
        self._speed_applied = False
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.param_group_rules = [dict(r) for r in param_groups]
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        # --- the contract: instance state ------------------------------------------------------
        self.run_config: dict | None = None  # the composed Hydra config (record_run), kept in checkpoints
        self.run_origin: dict = {}  # {"experiment": name, "overrides": [...]} of the run (record_run)
        self.class_names: list[str] = []  # from the data module at fit time, kept in checkpoints
        self.category_ids: list[int] = []  # COCO category ids of the data (COCO results files); [] = 1..C

    # --- the contract: hooks ---------------------------------------------------------------------
    def record_run(self, config: dict, origin: dict) -> None:
        """Called by the runner before fit/test: the composed config and how it was composed, for checkpoints."""
        self.run_config, self.run_origin = config, origin

    def adopt_checkpoint_structure(self, checkpoint: dict) -> None:
        """Called before a checkpoint's weights are compared: build layers whose sizes come from the data
        (captioning's vocabulary) as the checkpoint has them."""

    def export_spec(self, photos: Photos) -> ExportSpec | None:
        """What export.py writes (the module is put in eval mode on the CPU by the caller); None: nothing to export.
        A task that cannot be exported faithfully raises ConfigError saying why."""
        return None

    def trained_image_size(self, default: int) -> tuple[int, int]:
        """(H, W) the net was trained at: the run config's data.image_size or data.crop_size, else `default`."""
        data = (self.run_config or {}).get("data") or {}
        size = data.get("image_size") or data.get("crop_size") or default
        return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))

    def display_images(self) -> dict[str, Tensor] | None:
        """Image-optimisation tasks: {name: (N, C, H, W) pixels} shown in TensorBoard as they change."""
        return None

    def output_files(self) -> dict[str, Tensor | dict | list] | None:
        """Image-optimisation tasks: {file name: pixels or JSON-able data} written to the run folder at the end."""
        return None

    def grid_images(self) -> tuple[Tensor, int] | None:
        """Generative tasks: (images in [0, 1], images per row) of fixed noise for the sample grid."""
        return None

    def sample_class_shares(self) -> Tensor | None:
        """Generative tasks: the share of each class among the last validation's samples (None: not measured)."""
        return None

    def style_reference(self) -> Tensor | None:
        """Style-transfer tasks: the style image (1, 3, H, W) in [0, 1] shown beside the results."""
        return None

    def predict_input_problem(self, image: Tensor) -> str | None:
        """predict.py: why one input, as the data module prepared it ((C, H, W)), cannot be predicted (e.g. too
        small for the net), None when it can; the file is then listed as failed and the others still predicted."""
        return None

    def scale_count(self) -> int:
        """Tasks that optimise at several scales (multi-scale style transfer): how many; 1 otherwise."""
        return 1

    def speed_modules(self) -> dict[str, nn.Module]:
        """The nets model.compile and model.channels_last apply to, by name ({}: the switches do not apply)."""
        return {}

    def implements(self, hook: str) -> bool:
        """Whether this task overrides contract hook `hook` (callbacks check what they need in setup)."""
        return getattr(type(self), hook) is not getattr(VisionTask, hook)

    # --- per-stage metrics: the one way to declare them -----------------------------------------
    def add_stage_metrics(self, make: Callable[[str], nn.Module], stages: Sequence[str] = STAGES) -> None:
        """`make(stage)` builds one stage's metrics (a torchmetrics Metric, a MetricCollection or a
        ModuleDict of them), kept as a submodule so they move with the task; read them with stage_metrics."""
        for stage in stages:
            setattr(self, f"{stage}_metrics", make(stage))

    def stage_metrics(self, stage: str) -> nn.Module:
        return getattr(self, f"{stage}_metrics")

    def log_stage_loss(self, stage: str, loss: Tensor, batch_size: int) -> None:
        """`<stage>/loss`: per step and epoch while training, per epoch (synchronised across processes) otherwise."""
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            sync_dist=not on_step,
            batch_size=batch_size,
        )

    # --- speed switches --------------------------------------------------------------------------
    def configure_model(self) -> None:
        """Lightning calls this once the task is on its device: channels-last, then compile, in place (the
        state dict keeps its keys, so checkpoints do not depend on the switches)."""
        if self._speed_applied or (self.compile_mode is None and not self.channels_last):
            return
        modules = self.speed_modules()
        if not modules:
            raise ConfigError(
                f"model.compile / model.channels_last do not apply to {type(self).__name__} (it "
                "has no net to speed up); leave model.compile=null model.channels_last=false"
            )
        for module in modules.values():
            if self.channels_last:
                module.to(memory_format=torch.channels_last)
            if self.compile_mode is not None:
                module.compile(mode=self.compile_mode)
        self._speed_applied = True

    # --- optimisation --------------------------------------------------------------------------
    def base_lr(self) -> float:
        keywords = self.optimizer_factory.keywords if isinstance(self.optimizer_factory, partial) else {}
        if "lr" not in keywords:
            raise ConfigError("model.optimizer needs an explicit lr (it is the base of the param-group scales)")
        return float(keywords["lr"])

    def configure_optimizers(self) -> Any:
        from litvision.tasks.param_groups import build_param_groups

        groups = build_param_groups(self.named_parameters(), self.param_group_rules, self.base_lr())
        optimizer = self.optimizer_factory(groups)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = {"scheduler": self.scheduler_factory(optimizer), "interval": self.scheduler_interval}
        if self.scheduler_monitor:
            scheduler["monitor"] = self.scheduler_monitor
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    # --- checkpoint identity -------------------------------------------------------------------
    def identity(self) -> dict:
        return {"task": f"{type(self).__module__}.{type(self).__qualname__}"}

    def on_fit_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        self.class_names = [str(c) for c in getattr(datamodule, "classes", None) or []]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["litvision"] = {
            **self.identity(),
            "config": self.run_config,
            "class_names": self.class_names,
            **self.run_origin,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        meta = checkpoint.get("litvision") or {}
        self.class_names = list(meta.get("class_names") or self.class_names)
        self.run_config = self.run_config or meta.get("config")

    def class_name(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)
