"""EMA of a task's weights: Lightning's EMAWeightAveraging with the two things a litvision run needs.

Lightning's callback keeps an exponential moving average of every parameter and buffer, swaps it in for
validation, writes it as the checkpoint's `state_dict` (the raw weights under `current_model_state`, restored
on resume with the average) and copies it into the task when fit ends. So every checkpoint — and therefore
eval.py, predict.py and export.py, which load `state_dict` — holds the averaged weights. Two changes:

- `trainer.test(ckpt_path=best)` right after fit (the runner's test stage) would have Lightning's callback load the
  checkpoint's raw weights back over the averaged ones; here they are restored only when fit resumes.
- A task that averages its own weights (the GAN's generator EMA, `model.ema_decay`) refuses the callback and
  names its own option (`VisionTask.own_weight_average`): averaging its discriminator too serves no one.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

from litvision.errors import ConfigError


class EMA(EMAWeightAveraging):
    """`callbacks/ema=default`: validation, test, checkpoints, predict and export use the averaged weights."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if pl_module.own_weight_average:
            raise ConfigError(
                f"callbacks/ema: {type(pl_module).__name__} averages its weights itself; drop callbacks/ema and set "
                f"{pl_module.own_weight_average} instead"
            )
        super().setup(trainer, pl_module, stage)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn == TrainerFn.FITTING:  # resuming: the raw weights and the average both come back
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
