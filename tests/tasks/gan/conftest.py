"""One data folder for the GAN tests: the offline digits (exported by the experiment itself on first
use), the FID classifier trained on them by the digits_classifier experiment (a short run), and the
same IDX files and classifier under the names the MNIST experiments look for."""

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from conftest import compose_config

from litvision.runtime import run

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "logger=none"]


@contextmanager
def single_thread():
    """The nets here are tiny (16 px): a second intra-op thread only adds synchronisation, which on a
    busy machine costs more than it saves. Every GAN run of these tests uses one thread, so runs
    compared for equality also share their summation order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def gan_data(tmp_path_factory) -> Path:
    with single_thread():  # a session fixture is set up before the autouse one_thread
        return _make_gan_data(tmp_path_factory.mktemp("gan_data"))


def _make_gan_data(root: Path) -> Path:
    overrides = ["experiment=digits_classifier", f"paths.data_dir={root}", *FAST, "test=false"]
    overrides += ["trainer.max_epochs=3", "~augment@data.train_transforms", "callbacks.model_summary=null"]
    overrides += ["data.image_size=16", "data.batch_size=32", "model.optimizer.lr=3e-3"]
    metrics = run.train(compose_config(overrides, root / "classifier_run"))
    assert metrics["val/acc"] > 0.7  # good enough to tell the classes apart
    classifiers = root / "classifiers"
    # the MNIST experiments read MNIST/raw and classifiers/mnist_16px.ckpt: the same digits, relabelled
    shutil.copytree(root / "digits_16px", root / "mnist/MNIST/raw")
    ckpt = torch.load(classifiers / "digits_16px.ckpt", map_location="cpu", weights_only=True)
    ckpt["litvision"]["config"]["data"]["dataset"] = "mnist"
    torch.save(ckpt, classifiers / "mnist_16px.ckpt")
    return root


def gan_overrides(experiment: str, data_dir: Path, *extra: str) -> list[str]:
    """`experiment` at 16 px on the generated data, small batches, CPU."""
    return [
        f"experiment={experiment}",
        f"paths.data_dir={data_dir}",
        *FAST,
        "data.image_size=16",
        "data.batch_size=16",
        "data.num_workers=0",
        "callbacks.model_summary=null",
        *extra,
    ]
