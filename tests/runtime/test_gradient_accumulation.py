"""Gradient accumulation and clipping as configuration (trainer.accumulate_grad_batches,
trainer.gradient_clip_val / gradient_clip_algorithm), checked on a classifier without batch statistics."""

from functools import partial

import pytest
import torch
from conftest import compose_config
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from litvision.errors import ConfigError
from litvision.runtime.build import build
from litvision.runtime.config_check import check_config
from litvision.tasks.classification import ClassificationTask

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "+trainer.max_steps=1", "trainer.max_epochs=-1"]


def _task() -> ClassificationTask:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))  # no batch statistics
    return ClassificationTask(net=net, num_classes=4, optimizer=partial(torch.optim.SGD, lr=0.5))


def _one_step(overrides: list[str], batch_size: int, tmp_path) -> tuple[dict, dict]:
    """The task's weights before and after one optimiser step of a Trainer built from the composed config."""
    cfg = compose_config(FAST + overrides, tmp_path)
    check_config(cfg)
    gen = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.rand(16, 3, 8, 8, generator=gen), torch.randint(0, 4, (16,), generator=gen))
    task = _task()
    before = {k: v.clone() for k, v in task.state_dict().items()}
    trainer = build(cfg.trainer, logger=False, callbacks=[], enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(task, DataLoader(data, batch_size=batch_size), val_dataloaders=[])
    assert trainer.global_step == 1
    return before, task.state_dict()


def test_accumulating_two_batches_of_8_is_one_step_on_a_batch_of_16(tmp_path):
    start, accumulated = _one_step(["trainer.accumulate_grad_batches=2"], 8, tmp_path / "a")
    _, whole = _one_step([], 16, tmp_path / "b")
    _, first_half = _one_step([], 8, tmp_path / "c")  # without accumulation: a step on the first 8 only
    for key in accumulated:
        torch.testing.assert_close(accumulated[key], whole[key], rtol=0, atol=1e-6)
    assert any((first_half[k] - whole[k]).abs().max() > 1e-4 for k in whole)
    assert any((accumulated[k] - start[k]).abs().max() > 1e-4 for k in start)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_bounds_the_step(algorithm, tmp_path):
    clip, lr = 1e-3, 0.5
    before, after = _one_step(
        [f"trainer.gradient_clip_val={clip}", f"trainer.gradient_clip_algorithm={algorithm}"], 16, tmp_path
    )
    steps = torch.cat([(before[k] - after[k]).flatten() / lr for k in before])  # the clipped gradient
    if algorithm == "norm":
        assert steps.norm() == pytest.approx(clip, rel=1e-3)
    else:
        assert steps.abs().max() == pytest.approx(clip, rel=1e-3)


def test_an_unknown_clip_algorithm_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="trainer.gradient_clip_algorithm='l2'.*norm or value"):
        check_config(compose_config(["trainer.gradient_clip_algorithm=l2"], tmp_path))
