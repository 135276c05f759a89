"""Every GAN experiment runs (one batch of each split) on generated data in the real on-disk format —
the MNIST ones on IDX files in torchvision's MNIST/raw layout — and bad input stops a run with one
line."""

from pathlib import Path

import pytest
from conftest import REPO, compose_config, run_cli

from litvision.cli import CONFIG_DIR
from litvision.errors import WeightsUnavailableError
from litvision.runtime import run

from .conftest import gan_overrides

GAN_EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*gan*.yaml"))
# one batch of each split of these; gan_digits, wgan_gp_digits run longer in test_gan_task, and
# lsgan_digits / dcgan_digits are gan_digits with the net or loss of lsgan_mnist / dcgan_mnist
RUN = ["gan_mnist", "lsgan_mnist", "dcgan_mnist", "cdcgan_digits"]


def test_the_issue_names_are_all_there():
    assert {"gan_mnist", "lsgan_mnist", "dcgan_mnist", "gan_digits", "lsgan_digits", "dcgan_digits"} <= set(
        GAN_EXPERIMENTS
    )
    assert {"wgan_gp_digits", "cdcgan_digits"} <= set(GAN_EXPERIMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", RUN)
def test_fast_dev_run_gan_experiments(experiment, gan_data, tmp_path):
    cfg = compose_config(gan_overrides(experiment, gan_data, "debug=fdr", "data.download=false"), tmp_path)
    assert cfg.model._target_ == "litvision.tasks.gan.GANTask" and cfg.optimized_metric == "val/FID"
    metrics = run.train(cfg)
    assert {"train/d_loss", "val/FID", "val/FID_floor", "val/KID", "test/FID"} <= set(metrics)
    assert ("train/g_loss" in metrics) == (cfg.model.d_steps == 1)  # WGAN-GP: 5 critic batches per G step
    assert (tmp_path / "samples/progress.gif").is_file()


def test_inception_features_without_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", no_network)
    cfg = compose_config(["experiment=gan_digits", "model.fid_features=inception", "model.classifier=null"], tmp_path)
    with pytest.raises(
        WeightsUnavailableError,
        match=r"weights-inception-2015-12-05-6726825d\.pth could not be loaded .*torch_home/hub/checkpoints/",
    ):
        run.build(cfg.model)


@pytest.mark.slow
def test_corrupt_idx_file_is_one_error_line(gan_data, tmp_path):
    root = tmp_path / "digits"
    root.mkdir()
    for f in (gan_data / "digits_16px").iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    labels = root / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-5])  # truncated
    args = [str(REPO / "train.py"), *gan_overrides("gan_digits", gan_data, f"data.root={root}", "debug=fdr")]
    proc = run_cli(args, tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "t10k-labels-idx1-ubyte is truncated: its header says 450 values" in lines[0]
