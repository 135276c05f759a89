"""Shared fixtures: composed configs (Hydra's compose API, no hydra.main), generated data sets in the
real on-disk formats, and helpers to run the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from litvision.cli import CONFIG_DIR
from litvision.data.synth.cifar10 import write_cifar10
from litvision.data.synth.imagefolder import write_imagefolder
from litvision.data.synth.lfw import export_lfw_faces
from litvision.runtime.run_dir import RUN_ID_ENV

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(min(2, os.cpu_count() or 1))


def _checkout_entries() -> set[str]:
    """What the checkout holds at its top (outputs/, data/, lightning_logs/ would show here); caches aside."""
    return {p.name for p in REPO.iterdir() if not p.name.startswith(".") and p.name != "__pycache__"}


@pytest.fixture(autouse=True)
def no_inherited_run_id(monkeypatch):
    """Each test starts as a fresh process would: without a run id (litvision.runtime.run_dir.RUN_ID_ENV) that an
    earlier in-process CLI run set and did not clear (a run that exits early skips Hydra's on_run_end)."""
    monkeypatch.delenv(RUN_ID_ENV, raising=False)


@pytest.fixture(scope="session", autouse=True)
def outside_the_checkout(tmp_path_factory):
    """Tests never write into the checkout: they run from a scratch folder, so whatever a test writes to
    a relative path (outputs/, data/, Lightning's lightning_logs/) lands there; and the session fails if
    the checkout gained an entry anyway."""
    before, cwd = _checkout_entries(), os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(cwd)
    added = sorted(_checkout_entries() - before)
    if added:
        pytest.fail(f"the tests wrote into the checkout {REPO}: {', '.join(added)}", pytrace=False)


def compose_config(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    """The config `python train.py <overrides>` would build, writing into `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir.parent)
    return cfg


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One folder with every generated data set the classification tests use."""
    root = tmp_path_factory.mktemp("data")
    export_lfw_faces(root / "lfw_faces")
    write_imagefolder(
        root / "hotdog",
        {"hotdog": ["coffee", "chelsea"], "not-hotdog": ["rocket", "motorcycle"]},
        {"train": 8, "test": 4},
        size=(72, 96),
    )
    write_cifar10(root / "cifar10", train_per_class=4, test_per_class=2)
    return root


# Small, fast versions of each experiment on the generated data (the real reading code).
FAST = ["data.num_workers=0", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]
EXPERIMENT_DATA = {
    "quickstart": ["data.image_size=64", "data.resize_size=72", "data.batch_size=16"],
    "quickstart_scratch": ["data.image_size=64", "data.resize_size=72", "data.batch_size=16"],
    "hotdog_finetune": ["data.image_size=64", "data.resize_size=72", "data.batch_size=8", "model.net.weights=null"],
    "hotdog_scratch": ["data.image_size=64", "data.resize_size=72", "data.batch_size=8"],
    "cifar10_aug": ["data.verify_checksums=false", "data.download=false", "data.batch_size=8"],
    "cifar10_noaug": ["data.verify_checksums=false", "data.download=false", "data.batch_size=8"],
}


def experiment_overrides(name: str, data_root: Path) -> list[str]:
    return [f"experiment={name}", f"paths.data_dir={data_root}", *FAST, *EXPERIMENT_DATA[name]]


def run_cli(
    args: list[str], cwd: Path, timeout: int = 300, check: bool = True, warnings: str = "ignore"
) -> subprocess.CompletedProcess:
    """Run a repository script (train.py, eval.py, ...) as a user would, from `cwd` (`warnings`: the
    PYTHONWARNINGS setting; "default" shows them as a user's shell would)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": warnings}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def caption_root(tmp_path_factory) -> Path:
    """A small generated captioning set in every layout (Karpathy, COCO JSON, cs231n h5 with 64 px
    EfficientNet-Lite0 features), shared read-only: copy it before changing files."""
    from litvision.data.synth.captions import generate_captions

    root = tmp_path_factory.mktemp("captions") / "caption_synth"
    generate_captions(
        root, num_train=50, num_val=6, num_test=6, num_restval=3, image_size=64, features={"image_size": 64}
    )
    return root
