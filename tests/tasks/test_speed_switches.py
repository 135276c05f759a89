"""model.compile and model.channels_last: the same outputs (within tolerance), the same checkpoints, and a
clear error where a switch does not apply."""

import copy
from functools import partial

import pytest
import torch
from torch import nn

from litvision.errors import ConfigError
from litvision.runtime.config_check import COMPILE_MODES as CHECKED_MODES
from litvision.tasks.base import COMPILE_MODES, VisionTask
from litvision.tasks.classification import ClassificationTask
from litvision.tasks.rcnn import RCNNTask

SGD = partial(torch.optim.SGD, lr=0.1)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )


def _task(**speed) -> ClassificationTask:
    return ClassificationTask(net=_net(), num_classes=3, optimizer=SGD, **speed).eval()


def test_channels_last_gives_the_same_outputs_and_state_dict():
    x = torch.rand(2, 3, 16, 16)
    plain, fast = _task(), _task(channels_last=True)
    fast.configure_model()
    assert fast.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast(x), plain(x), atol=1e-5, rtol=1e-4)
    assert fast.state_dict().keys() == plain.state_dict().keys()


@pytest.mark.slow  # inductor compiles for about a minute on 2 cores
def test_compile_gives_the_same_outputs_and_keeps_checkpoint_keys():
    x = torch.rand(2, 3, 16, 16)
    plain, fast = _task(), _task(compile="default", channels_last=True)
    fast.configure_model()
    fast.configure_model()  # Lightning may call it again (predict after fit): applied once
    torch.testing.assert_close(fast(x), plain(x), atol=1e-5, rtol=1e-4)
    assert list(fast.state_dict()) == list(plain.state_dict())  # no _orig_mod. prefix: checkpoints load either way
    # a training step through the compiled net matches too
    plain.train(), fast.train()
    batch = (x, torch.tensor([0, 2]))
    torch.testing.assert_close(fast.training_step(batch, 0), plain.training_step(batch, 0), atol=1e-5, rtol=1e-4)


def test_switches_off_leave_the_net_alone():
    task = _task()
    before = copy.deepcopy(task.net)
    task.configure_model()
    assert not task.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.equal(a, b) for a, b in zip(task.net.parameters(), before.parameters(), strict=True))


def test_unknown_compile_mode_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"model.compile='fast' is not valid: expected null or one of default"):
        _task(compile="fast")
    assert COMPILE_MODES == CHECKED_MODES  # the config check and the task accept the same modes


def test_compile_says_where_it_does_not_apply():
    # the R-CNN family: torchvision resizes every image to its own shape
    with pytest.raises(ConfigError, match=r"model.compile does not apply to RCNNTask: .*dynamic shapes"):
        RCNNTask(net=None, num_classes=2, optimizer=SGD, compile="default")


def test_switches_on_a_task_without_a_net_are_refused():
    # image-optimisation and saliency tasks declare no speed_modules: asking for a switch is an error, not a no-op
    task = VisionTask(optimizer=None, channels_last=True)
    with pytest.raises(ConfigError, match=r"do not apply to VisionTask \(it has no net to speed up\)"):
        task.configure_model()
