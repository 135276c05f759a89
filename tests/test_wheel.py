"""The package works installed, not only from a checkout: a wheel built from the repository carries its
configs, and its `litvision-train` runs the quickstart from an empty folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel installed (without dependencies: this venv has them) into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the source tree (build/, *.egg-info): build a copy, never the checkout
    source = root / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-q", "-w", root],
        check=True,
        capture_output=True,
    )
    (wheel,) = root.glob("litvision-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "litvision/conf/train.yaml" in names and "litvision/conf/experiment/quickstart.yaml" in names
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel],
        check=True,
        capture_output=True,
    )
    return target


def test_installed_package_runs_quickstart_from_an_empty_folder(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    # the installed copy first on the path, ahead of the checkout's editable install
    env = {**os.environ, "PYTHONPATH": str(installed), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    check = [sys.executable, "-c", "import litvision, sys; print(litvision.__file__)"]
    where = subprocess.run(check, cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(installed)
    args = [
        str(installed / "bin" / "litvision-train"),
        "experiment=quickstart",
        "trainer.max_epochs=1",
        "data.image_size=32",
        "data.resize_size=36",
        "data.num_workers=0",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=null",
    ]
    proc = subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the run summary's table: one row per metric, the best epoch's train/val beside the test figure
    out = proc.stdout + proc.stderr
    assert re.search(r"^\s+metric\s+train\s+val\s+test$", out, re.M)
    assert re.search(r"^\s+acc(\s+\d\.\d{4}){3}$", out, re.M)
    assert list((work / "outputs" / "quickstart" / "runs").glob("*/checkpoints/last.ckpt"))
