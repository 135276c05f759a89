"""callbacks/ema (litvision.callbacks.ema.EMA): the averaged weights are a hand-computed EMA of the raw ones,
and validation, test after fit and the checkpoint all see them."""

from functools import partial

import lightning as L
import torch
from conftest import compose_config
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from litvision.runtime.build import build
from litvision.tasks.classification import ClassificationTask


class RawWeights(L.Callback):
    """The raw weights after each optimiser step, and the weights validation and test ran with."""

    def __init__(self):
        self.steps, self.validated, self.tested = [], [], []

    def on_train_batch_end(self, trainer, pl_module, *args):
        self.steps.append({k: v.clone() for k, v in pl_module.state_dict().items()})

    def on_validation_epoch_start(self, trainer, pl_module):
        self.validated.append({k: v.clone() for k, v in pl_module.state_dict().items()})

    def on_test_epoch_start(self, trainer, pl_module):
        self.tested.append({k: v.clone() for k, v in pl_module.state_dict().items()})


def _ema_trainer(tmp_path, decay: float) -> tuple[L.Trainer, RawWeights]:
    cfg = compose_config(["callbacks/ema=default", f"callbacks.ema.decay={decay}"], tmp_path / "run")
    raw = RawWeights()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        callbacks=[build(cfg.callbacks.ema), raw, ModelCheckpoint(dirpath=tmp_path, filename="last", monitor=None)],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return trainer, raw


def _task_and_data():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    task = ClassificationTask(net=net, num_classes=4, optimizer=partial(torch.optim.SGD, lr=0.5))
    gen = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.rand(16, 3, 4, 4, generator=gen), torch.randint(0, 4, (16,), generator=gen))
    return task, DataLoader(data, batch_size=4)


def test_the_average_is_the_hand_computed_ema_and_validation_test_and_checkpoint_use_it(tmp_path):
    decay = 0.6
    trainer, raw = _ema_trainer(tmp_path, decay)
    task, loader = _task_and_data()
    trainer.fit(task, loader, loader)
    assert len(raw.steps) == 4
    expected = {k: v.clone() for k, v in raw.steps[0].items()}  # the first update copies the weights
    for step in raw.steps[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * step[k] for k in expected}
    for weights in (raw.validated[0], task.state_dict()):  # validation swapped it in; fit ends with it
        for k in expected:
            torch.testing.assert_close(weights[k], expected[k], rtol=0, atol=1e-6)
    ckpt = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)  # written during fit
    for k in expected:
        torch.testing.assert_close(ckpt["state_dict"][k], expected[k], rtol=0, atol=1e-6)
        assert torch.equal(ckpt["current_model_state"][k], raw.steps[-1][k])
    trainer.test(task, loader, ckpt_path=tmp_path / "last.ckpt", verbose=False)  # the runner's test after fit
    for k in expected:
        torch.testing.assert_close(raw.tested[0][k], expected[k], rtol=0, atol=1e-6)
    assert any(not torch.allclose(expected[k], raw.steps[-1][k]) for k in expected)  # the average is not the raw


def test_it_joins_the_callbacks_an_experiment_picks(tmp_path):
    cfg = compose_config(["experiment=fcn_voc_synth", "callbacks/ema=default"], tmp_path)
    assert (
        cfg.callbacks.ema._target_ == "litvision.callbacks.ema.EMA" and "segmentation_prediction_grid" in cfg.callbacks
    )
