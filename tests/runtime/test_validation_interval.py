"""Runs that validate every n epochs (the GANs: check_val_every_n_epoch 5 or 10): last.ckpt after every
epoch, and a run that would end before its first validation refused before it trains."""

import pytest
import torch
from conftest import compose_config, experiment_overrides

from litvision.errors import ConfigError
from litvision.runtime import run


def _overrides(data_root, epochs, every):
    return [
        *experiment_overrides("quickstart", data_root),
        "debug=limit",
        "logger=none",
        "test=false",
        f"trainer.max_epochs={epochs}",
        f"trainer.check_val_every_n_epoch={every}",
    ]


def test_last_checkpoint_is_the_last_epoch_even_without_its_validation(data_root, tmp_path):
    run.train(compose_config(_overrides(data_root, 3, 2), tmp_path / "run"))
    folder = tmp_path / "run/checkpoints"
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 2  # validation ran after epoch 1 only
    assert sorted(p.name for p in folder.iterdir()) == ["epoch001.ckpt", "last.ckpt"]


def test_a_run_ending_before_its_first_validation_is_refused_before_training(data_root, tmp_path):
    with pytest.raises(ConfigError, match=r"check_val_every_n_epoch=2 or trainer.max_epochs=5"):
        run.train(compose_config(_overrides(data_root, 2, 5), tmp_path / "run"))
    assert not (tmp_path / "run/checkpoints").exists()
