"""`make gpu-check` without CUDA: the same code as a CPU smoke, saying so, with every family's result."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "experiments" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine `make gpu-check` is the real run")
def test_gpu_check_runs_every_family_as_a_cpu_smoke(tmp_path):
    gpu_check = _gpu_check()
    result = gpu_check.main(["--out", str(tmp_path / "results"), "--work", str(tmp_path / "work")])
    text = (tmp_path / "results" / "gpu_check.md").read_text()
    written = json.loads((tmp_path / "results" / "gpu_check.json").read_text())
    assert written["smoke"] and "Smoke run on the CPU: no CUDA device here" in text
    assert written["machine"]["cpu_cores"] >= 1 and written["machine"]["torch"] == torch.__version__
    rows = {(r["family"], r["precision"]): r for r in result["families"]}
    assert set(rows) == {(f, p) for f in gpu_check.FAMILIES for p in ("32",)}
    failed = {k: r.get("error") for k, r in rows.items() if not r["ok"]}
    assert not failed
    assert all(r["train_steps"] >= 1 for r in rows.values())
    untested = {"style transfer", "fast style transfer"}  # their experiments have no test stage (test=false)
    assert all(r["test_steps"] >= 1 for k, r in rows.items() if k[0] not in untested)
    assert written["overhead"]["plain_images_per_s"] > 0 and written["overhead"]["litvision_images_per_s"] > 0
    assert [r["memory_format"] for r in written["resnet50"]] == ["NCHW", "channels_last"]
    assert all(r["loss_finite"] for r in written["resnet50"])
    decode = {r["decode_on"]: r for r in written["decode"]}
    assert decode["cpu"]["images"] == decode["device"]["images"] == 16
    assert "Families that failed: none." in text
