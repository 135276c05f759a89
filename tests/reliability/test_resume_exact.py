"""Finding 5: with trainer.deterministic=true, stopping after epoch 1 and resuming from last.ckpt ends
exactly where the uninterrupted run ends (shuffle, DataLoader worker seeds, dropout: the random state
travels in the checkpoint). Issue 21: the resumed run, in its own folder, also names the same best
checkpoint (its score and file come along) and reports the same figures; a run killed in the middle of an
epoch resumes from the last epoch's end and ends the same too."""

import lightning as L
import pytest
import torch
from conftest import compose_config, experiment_overrides

from litvision.runtime import run


def _overrides(data_root, epochs):
    quick = [o for o in experiment_overrides("quickstart", data_root) if not o.startswith("data.num_workers")]
    return [
        *quick,
        "data.num_workers=2",  # augmentation in worker processes: their seeds must follow the resumed state
        "data.image_size=32",
        "data.resize_size=36",
        "data.batch_size=8",
        "trainer.deterministic=true",
        "debug=limit",  # 3 training and 2 validation batches per epoch
        "test=false",
        "logger=none",
        f"trainer.max_epochs={epochs}",
    ]


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_stop_after_epoch_1_and_resume_matches_the_straight_run(tmp_path, data_root):
    straight = run.train(compose_config(_overrides(data_root, 2), tmp_path / "straight"))
    run.train(compose_config(_overrides(data_root, 1), tmp_path / "stopped"))
    last = tmp_path / "stopped/checkpoints/last.ckpt"
    resumed = run.train(compose_config([*_overrides(data_root, 2), f"ckpt_path={last}"], tmp_path / "resumed"))
    assert resumed == straight
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _kept(tmp_path / "resumed") == _kept(tmp_path / "straight")


def _kept(run_dir):
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


class KillMidEpoch(L.Callback):
    """Dies in the second batch of epoch 1, as a killed process would: nothing more is saved."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == 1 and batch_idx == 1:
            raise SystemExit("killed")


@pytest.mark.slow
def test_killed_in_the_middle_of_an_epoch_resumes_from_the_last_epoch_end_and_matches(tmp_path, data_root):
    straight = run.train(compose_config(_overrides(data_root, 2), tmp_path / "straight"))
    kill = [*_overrides(data_root, 2), f"+callbacks.kill._target_={__name__}.KillMidEpoch"]
    with pytest.raises(SystemExit):
        run.train(compose_config(kill, tmp_path / "killed"))
    last = tmp_path / "killed/checkpoints/last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 0
    resumed = run.train(compose_config([*_overrides(data_root, 2), f"ckpt_path={last}"], tmp_path / "resumed"))
    assert resumed == straight
    assert _kept(tmp_path / "resumed") == _kept(tmp_path / "straight")


def _checkpoint(run_dir):
    return torch.load(run_dir / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_a_run_with_ema_resumes_bit_exactly(tmp_path, data_root):
    ema = ["callbacks/ema=default", "callbacks.ema.decay=0.5"]  # a short memory, so every step shows
    run.train(compose_config([*_overrides(data_root, 2), *ema], tmp_path / "straight"))
    run.train(compose_config([*_overrides(data_root, 1), *ema], tmp_path / "stopped"))
    last = tmp_path / "stopped/checkpoints/last.ckpt"
    run.train(compose_config([*_overrides(data_root, 2), *ema, f"ckpt_path={last}"], tmp_path / "resumed"))
    a, b = _checkpoint(tmp_path / "straight"), _checkpoint(tmp_path / "resumed")
    # state_dict: the average; current_model_state: the raw weights; averaging_state: how many steps averaged
    for key in ("state_dict", "current_model_state", "averaging_state"):
        assert a[key].keys() == b[key].keys() and all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert int(a["averaging_state"]["n_averaged"]) == 6
    assert any(not torch.equal(a["state_dict"][k], a["current_model_state"][k]) for k in a["state_dict"])
