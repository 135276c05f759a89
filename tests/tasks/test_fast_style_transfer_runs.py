"""The fast style-transfer experiments end to end, shrunk (tiny net, tiny crops, a few steps, a scikit-image
style picture): training on the generated content photographs, predict.py at full resolution, export to
ONNX and TorchScript with the same pixels, and the bad inputs' error lines."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import REPO, compose_config, run_cli
from PIL import Image

from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.inference.export import export, run_exported
from litvision.runtime import run

pytestmark = pytest.mark.slow

# small photographs, the same whether opencv-doc is installed or not (the exported folder is keyed by them)
PHOTOS = ["+data.prepare.max_side=64", "+data.prepare.opencv_doc_dir=/nonexistent"]
SMALL = [
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "data.num_workers=0",
    "data.crop_size=32",
    "data.batch_size=2",
    "model.style=skimage:coffee",
    "model.style_border=0",
    "model.style_size=48",
    "model.net.channels=[8,16]",
    "model.net.residual_blocks=1",
    "model.net.outer_kernel=5",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """fast_style_transfer_effnet as configured (offline photos exported on first use), 4 steps."""
    root = tmp_path_factory.mktemp("fast")
    overrides = [
        "experiment=fast_style_transfer_effnet",
        f"paths.data_dir={root / 'data'}",
        *PHOTOS,
        "data.samples_per_epoch=4",
        "trainer.max_epochs=2",
        *SMALL,
    ]
    metrics = run.train(compose_config(overrides, root / "run"))
    return root, metrics


def test_trains_on_the_offline_photos_and_shows_the_held_out_ones(trained):
    root, metrics = trained
    assert math.isfinite(metrics["val/loss"]) and metrics["val/loss"] > 0
    assert {"train/loss", "val/content_loss", "val/style_loss", "val/tv_loss"} <= set(metrics)
    assert sorted(p.name for p in (root / "data" / "content_photos" / "heldout").rglob("*.png")) == [
        "astronaut.png",
        "chelsea.png",
    ]
    ckpt = torch.load(root / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4 and all(k.startswith("net.") for k in ckpt["state_dict"])
    # the style, 2 held-out photos, their stylisations: three titled rows of 32 px images
    with Image.open(root / "run" / "heldout_stylised.png") as grid:
        assert grid.size[0] >= 2 * 32 + 3 * 2 and grid.size[1] > 3 * (32 + 12)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(root / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"val/stylised", "images/style", "train/augmented_batch"} <= set(events.Tags()["images"])
    # eval.py scores a checkpoint on the held-out photographs
    overrides = ["experiment=fast_style_transfer_effnet", f"paths.data_dir={root / 'data'}", *PHOTOS, *SMALL]
    ckpt = root / "run" / "checkpoints" / "last.ckpt"
    tested = run.evaluate(compose_config([*overrides, f"ckpt_path={ckpt}"], root / "eval", "eval"))
    assert math.isfinite(tested["test/loss"]) and {"test/style_loss", "test/content_loss"} <= set(tested)


def test_predict_stylises_each_image_at_its_full_size(trained, tmp_path):
    root, _ = trained
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(inputs / "odd.png")  # not /4
    Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)).save(inputs / "even.jpg")
    (inputs / "broken.png").write_bytes(b"not a png")
    from litvision.errors import DataError
    from litvision.inference.predict import predict

    cfg = compose_config(
        [f"ckpt_path={root / 'run' / 'checkpoints' / 'last.ckpt'}", f"input={inputs}"], tmp_path / "p", "predict"
    )
    with pytest.raises(DataError, match=r"1 of 3 input image\(s\) could not be used"):
        predict(cfg)
    records = json.loads((tmp_path / "p" / "predictions.json").read_text())
    by_name = {r["file"].rsplit("/", 1)[-1]: r for r in records}
    assert "error" in by_name["broken.png"]
    for name, size in (("odd.png", (53, 37)), ("even.jpg", (64, 40))):
        with Image.open(by_name[name]["stylised"]) as out:
            assert out.size == size and out.mode == "RGB"


def write_mixed_folder(folder):
    """issue 22's folder: good images in every mode predict.py must convert, beside unusable files."""
    folder.mkdir()
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "good1.jpg")
    Image.fromarray(pixels).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(pixels).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(pixels).convert("L").save(folder / "grey.png")
    Image.fromarray(pixels[..., 0].astype(np.uint16) * 257).save(folder / "deep16.png")
    Image.fromarray(pixels[:1, :1]).save(folder / "tiny.png")  # 1x1: too small for the net
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "notes.txt").write_text("not an image")


def test_predict_on_a_mixed_folder_lists_the_unusable_files_and_predicts_the_rest(trained, tmp_path):
    root, _ = trained
    write_mixed_folder(tmp_path / "mixed")
    ckpt = root / "run" / "checkpoints" / "last.ckpt"
    proc = run_cli(
        [str(REPO / "predict.py"), f"ckpt_path={ckpt}", f"input={tmp_path / 'mixed'}"], tmp_path, check=False
    )
    assert proc.returncode == 1
    (out,) = (tmp_path / "outputs/predict/runs").iterdir()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: 2 of 7 input image(s) could not be used (listed in {out / 'predictions.json'}); the others were "
        "predicted"
    ]
    records = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads((out / "predictions.json").read_text())}
    assert sorted(records) == ["cmyk.jpg", "corrupt.jpg", "deep16.png", "good1.jpg", "grey.png", "rgba.png", "tiny.png"]
    assert "cannot read image file" in records["corrupt.jpg"]["error"]
    assert "1x1 pixels; the transformation net needs at least" in records["tiny.png"]["error"]
    for name in ("cmyk.jpg", "deep16.png", "good1.jpg", "grey.png", "rgba.png"):
        with Image.open(records[name]["stylised"]) as stylised:
            assert stylised.size == (20, 24) and stylised.mode == "RGB"
    assert "tiny.png: 1x1 pixels" in proc.stdout and "corrupt.jpg" in proc.stdout


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_gives_the_same_pixels(trained, tmp_path, fmt):
    if fmt == "onnx":
        for package in ("onnx", "onnxscript", "onnxruntime"):
            pytest.importorskip(package, reason=f'pip install "litvision[export]" (needs {package})')
    root, _ = trained
    ckpt = root / "run" / "checkpoints" / "last.ckpt"
    record = export(compose_config([f"ckpt_path={ckpt}", f"format={fmt}"], tmp_path / "e", "export"))
    path = tmp_path / "e" / f"fast_style_transfer_effnet{'.onnx' if fmt == 'onnx' else '.pt'}"
    assert record["file"] == str(path) and record["max_difference"]["stylised"] < 1e-4
    from litvision.inference.export import export_spec

    net = export_spec(ckpt)[0].module
    images = torch.rand(3, 3, 45, 29)  # another batch size and an odd size: the exported model is dynamic
    with torch.no_grad():
        expected = net(images)
    torch.testing.assert_close(run_exported(path, images)[0], expected, atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="exists already and is never overwritten"):
        export(compose_config([f"ckpt_path={ckpt}", f"format={fmt}", f"output={path}"], tmp_path / "e2", "export"))


def test_exporting_another_tasks_checkpoint_is_one_error_line(tmp_path):
    other = tmp_path / "saliency.ckpt"
    config = {"task_name": "saliency_maps", "model": {}}
    task = "litvision.tasks.saliency.SaliencyTask"
    torch.save({"state_dict": {}, "litvision": {"task": task, "config": config}}, other)
    with pytest.raises(CheckpointMismatchError, match=r"SaliencyTask \(experiment saliency_maps\), which has no"):
        export(compose_config([f"ckpt_path={other}"], tmp_path / "e", "export"))
    proc = run_cli(
        [str(REPO / "export.py"), f"ckpt_path={other}", f"hydra.run.dir={tmp_path / 'cli'}"], tmp_path, check=False
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: checkpoint {other} was written by {task}")


def test_the_papers_vgg16_recipe_runs_on_generated_photos(trained, tmp_path):
    root, _ = trained
    overrides = [
        "experiment=fast_style_transfer",
        f"data.root={root / 'data' / 'content_photos' / 'train'}",
        "data.val_fraction=0.2",
        "model.weights=null",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "trainer.val_check_interval=1.0",
        *SMALL,
    ]
    with pytest.warns(UserWarning, match="random weights.*meaningless"):
        metrics = run.train(compose_config(overrides, tmp_path / "run"))
    assert math.isfinite(metrics["val/loss"])
    with pytest.raises(ConfigError, match=r"^data.root must name a folder of content photographs .* add data.root=DIR"):
        run.train(compose_config(["experiment=fast_style_transfer"], tmp_path / "run2"))
