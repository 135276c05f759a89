"""export.py for every task with a net: each file is checked against PyTorch on real photographs (or seeded
noise for the GANs) by onnxruntime / TorchScript, and its input contract is written beside it."""

import json

import pytest
import torch
from conftest import compose_config
from omegaconf import OmegaConf

from litvision.errors import ConfigError
from litvision.inference.export import export, export_spec, run_exported
from litvision.runtime.build import build

ONNX = ("onnx", "onnxscript", "onnxruntime")
# experiment, overrides that build it offline and small
TASKS = {
    "quickstart": ["data.image_size=64"],
    "fcn_voc_synth": ["model.net.weights=null"],
    "ssd_bananas_synth": ["data.image_size=128"],
    "gan_digits": ["model.classifier=null"],
    "cdcgan_digits": ["model.classifier=null", "model.ema_decay=0.9"],
    "faster_rcnn_bananas_synth": [],
    "mask_rcnn_voc_synth": [],
}


def _checkpoint(experiment: str, overrides: list[str], tmp_path):
    """A checkpoint as train.py writes it (the task's weights and its litvision stamp), without training."""
    cfg = compose_config([f"experiment={experiment}", *overrides], tmp_path / "run")
    torch.manual_seed(0)
    task = build(cfg.model)
    task.record_run(OmegaConf.to_container(cfg, resolve=True), {"experiment": experiment, "overrides": overrides})
    task.class_names = [f"class {i}" for i in range(getattr(task, "num_classes", 0) or 0)]
    ckpt = {"state_dict": task.state_dict()}
    task.on_save_checkpoint(ckpt)
    path = tmp_path / f"{experiment}.ckpt"
    torch.save(ckpt, path)
    return path


# the GAN's small generator in the quick suite, the image nets (a minute each on 2 CPU cores) with the slow tests
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize(
    "experiment", [e if e == "gan_digits" else pytest.param(e, marks=pytest.mark.slow) for e in sorted(TASKS)]
)
def test_export_matches_pytorch_and_writes_its_contract(experiment, fmt, tmp_path):
    if fmt == "onnx":
        for package in ONNX:
            pytest.importorskip(package, reason=f'pip install "litvision[export]" (needs {package})')
    ckpt = _checkpoint(experiment, TASKS[experiment], tmp_path)
    record = export(compose_config([f"ckpt_path={ckpt}", f"format={fmt}"], tmp_path / "e", "export"))
    spec, meta = export_spec(ckpt)
    assert set(record["max_difference"]) == set(spec.output_names)
    # once more, on inputs of another batch size (and image size where it is dynamic) than the checked ones
    batch = 0 in spec.dynamic.get(spec.input_names[0], {})  # the R-CNNs take one image per call
    inputs = tuple(torch.cat([x, x[:1]]) for x in spec.check) if batch else spec.check
    if "height" in spec.dynamic.get("image", {}).values():
        inputs = (torch.nn.functional.interpolate(inputs[0].float(), size=(97, 131)).to(torch.uint8),)
    with torch.no_grad():
        expected = spec.module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = run_exported(tmp_path / "e" / f"{experiment}{'.onnx' if fmt == 'onnx' else '.pt'}", inputs, spec.input_names)
    for name, e, g in zip(spec.output_names, expected, got):
        assert g.shape == e.shape, name
        if e.is_floating_point():
            torch.testing.assert_close(g, e, atol=spec.tolerance, rtol=0, msg=name)
        else:
            assert (g != e).float().mean() <= 1e-3, name
    contract = json.loads((tmp_path / "e" / f"{experiment}.json").read_text())
    assert set(contract["inputs"]) == set(spec.input_names) and set(contract["outputs"]) == set(spec.output_names)
    assert all({"dtype", "shape"} <= set(v) for v in contract["inputs"].values())
    assert contract["class_names"] == meta["class_names"] and contract["experiment"] == experiment
    assert contract["check"] == record["checked_on"]


def test_ssd_contract_says_where_nms_lives(tmp_path):
    spec, _ = export_spec(_checkpoint("ssd_bananas_synth", TASKS["ssd_bananas_synth"], tmp_path))
    assert any("NMS is not in the file" in note and "batched_nms" in note for note in spec.notes)
    boxes, scores = spec.module(*spec.check)
    assert boxes.shape[:2] == scores.shape[:2] and boxes.shape[-1] == 4 and float(boxes.max()) <= 128


def test_the_gan_exports_its_ema_generator(tmp_path):
    spec, _ = export_spec(_checkpoint("cdcgan_digits", TASKS["cdcgan_digits"], tmp_path))
    assert spec.input_names == ("noise", "labels") and "EMA" in spec.notes[0]
    with torch.no_grad():
        images = spec.module(*spec.check)
    assert images.min() >= 0 and images.max() <= 1


def test_a_failed_check_removes_the_file(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    ckpt = _checkpoint("gan_digits", TASKS["gan_digits"], tmp_path)
    monkeypatch.setattr("litvision.inference.export.differences", lambda expected, got: [1.0])
    with pytest.raises(ConfigError, match="cannot be trusted and was removed"):
        export(compose_config([f"ckpt_path={ckpt}", "format=torchscript"], tmp_path / "e", "export"))
    assert not (tmp_path / "e" / "gan_digits.pt").exists()


def test_captioning_is_refused_naming_why():
    from litvision.tasks.captioning import CaptioningTask

    with pytest.raises(ConfigError, match="captioning is not exported: a caption comes from a decoding loop"):
        CaptioningTask.export_spec(None, photos=None)  # refused before it looks at the task
