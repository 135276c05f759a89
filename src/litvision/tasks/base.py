"""What every litvision task shares: the optimiser (partial from config, per-group learning rates),
the optional scheduler, and an identity stamp in each checkpoint so that a checkpoint from another
task or net is refused with a clear error instead of a wall of missing keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import lightning as L
import torch

from litvision.errors import ConfigError


class VisionTask(L.LightningModule):
    # state_dict keys whose shape comes from the data, not the config: verify_checkpoint does not
    # compare their shapes (the task adopts the checkpoint's in on_load_checkpoint)
    data_shaped_state: tuple[str, ...] = ()
    # a task with nothing to train (saliency maps of a pretrained classifier): litvision.runtime.run refuses
    # train=true for it and tests it as built, without a checkpoint
    trains_nothing: bool = False

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Sequence[Mapping] = (),
        scheduler_interval: str = "epoch",
        scheduler_monitor: str | None = None,
    ) -> None:
        super().__init__()
        if scheduler_interval not in ("epoch", "step"):
            raise ConfigError(f"model.scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.param_group_rules = [dict(r) for r in param_groups]
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.run_config: dict | None = None  # the composed Hydra config, set by litvision.runtime.run
        self.run_origin: dict = {}  # {"experiment": name, "overrides": [...]} of the run, set by litvision.runtime.run
        self.class_names: list[str] = []  # from the data module at fit time, kept in checkpoints

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
