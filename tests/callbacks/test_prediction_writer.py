import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli
from PIL import Image

from litvision.callbacks.writers.base import PredictionWriter, build_writer
from litvision.callbacks.writers.boxes import BoxPredictionWriter
from litvision.data.core.predict_images import full_image, scan_inputs, screen_inputs
from litvision.errors import ConfigError, DataError


def test_outputs_of_one_input_share_a_stem_and_colliding_stems_are_numbered(tmp_path):
    writer = PredictionWriter(tmp_path)
    a_png, a_jpg = Path("in/a.png"), Path("in/a.jpg")
    assert writer.output_file(a_png, "_mask.png") == tmp_path / "a_mask.png"
    assert writer.output_file(a_jpg, "_mask.png") == tmp_path / "a_2_mask.png"
    assert writer.output_file(a_png, "_overlay.png") == tmp_path / "a_overlay.png"
    assert writer.output_file(Path("other/a_2.png"), ".png") == tmp_path / "a_2_2.png"


def test_unknown_writer_options_are_refused_and_null_ones_dropped(tmp_path):
    target = BoxPredictionWriter
    assert build_writer(target, tmp_path, {"score_threshold": 0.3}).score_threshold == 0.3
    # null means "the default": None, i.e. the task's draw_score_threshold when drawing
    assert build_writer(target, tmp_path, {"score_threshold": None}).score_threshold is None
    with pytest.raises(ConfigError, match=r"predict.top_k is not an option of BoxPredictionWriter.*score_threshold"):
        build_writer(target, tmp_path, {"top_k": 3})


def test_scan_reports_unreadable_files_and_counts_the_rest(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    inputs = scan_inputs(tmp_path)
    assert inputs.files == [tmp_path / "good.png"] and inputs.skipped == 1
    (failed,) = inputs.failed
    assert failed["file"] == str(tmp_path / "broken.jpg") and "cannot read image file" in failed["error"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        scan_inputs(tmp_path / "empty")
    with pytest.raises(DataError, match="does not exist"):
        scan_inputs(tmp_path / "missing")


def test_screening_lists_images_the_model_cannot_use_and_keeps_the_others(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "good.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")

    def too_small(image):
        return None if min(image.shape[-2:]) >= 4 else f"{image.shape[-2]}x{image.shape[-1]} pixels, too small"

    def failing_transform(image):
        if image.height == 1:
            raise ValueError("cannot pad")
        return full_image(image)

    inputs = screen_inputs(scan_inputs(tmp_path), full_image, too_small)
    assert inputs.files == [tmp_path / "good.png"]
    assert [f["file"] for f in inputs.failed] == [str(tmp_path / "broken.jpg"), str(tmp_path / "tiny.png")]
    assert inputs.failed[1]["error"] == f"{tmp_path / 'tiny.png'}: 1x1 pixels, too small"
    inputs = screen_inputs(scan_inputs(tmp_path), failing_transform, lambda image: None)
    assert inputs.failed[1]["error"].endswith("cannot be prepared for the model (ValueError: cannot pad)")


@pytest.mark.slow
def test_predict_cli_goes_on_past_an_unreadable_file(tmp_path, data_root):
    train = [
        str(REPO / "train.py"),
        "experiment=quickstart_scratch",
        f"paths.data_dir={data_root}",
        "trainer.max_epochs=1",
        "data.image_size=32",
        "data.resize_size=36",
        "data.num_workers=0",
        "test=false",
        "trainer.enable_progress_bar=false",
    ]
    run_cli(train, tmp_path)
    ckpt = next((tmp_path / "outputs").glob("*/runs/*/checkpoints/last.ckpt"))
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((40, 30, 3), 120, np.uint8)).save(images / "a.png")
    (images / "b.png").write_bytes(b"\x89PNG truncated")
    (images / "notes.txt").write_text("not an image")
    proc = run_cli([str(REPO / "predict.py"), f"ckpt_path={ckpt}", f"input={images}"], tmp_path, check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: 1 of 2 input image(s) could not be used (listed in {_json(tmp_path)}); the others were predicted"
    ]
    # the summary names the file and the reason, and counts what was skipped
    summary = proc.stdout[proc.stdout.index("Predicted 1 image(s)") :].splitlines()
    assert summary[1:4] == [
        "  1 could not be used (listed in the JSON with the reason):",
        f"    {records_error(images / 'b.png')}",
        "  1 file(s) skipped: not images (.png, .jpg, .jpeg, .gif, .bmp, .tif, .tiff, .webp)",
    ]
    records = json.loads(Path(_json(tmp_path)).read_text())
    assert [Path(r["file"]).name for r in records] == ["a.png", "b.png"]
    assert records[0]["class"] in ("face", "not_face") and "error" in records[1]


def records_error(path: Path) -> str:
    (failed,) = scan_inputs(path.parent).failed
    return failed["error"]


def _json(tmp_path: Path) -> str:
    (out,) = (tmp_path / "outputs/predict/runs").iterdir()
    return str(out / "predictions.json")


def test_the_score_threshold_decides_the_drawn_boxes_and_is_written_into_the_record(tmp_path):
    from types import SimpleNamespace

    import torch

    from litvision.callbacks.writers.boxes import BoxPredictionWriter

    Image.fromarray(np.full((80, 120, 3), 120, np.uint8)).save(tmp_path / "a.png")
    task = SimpleNamespace(
        draw_score_threshold=0.5, class_names=["banana"], category_ids=[], class_name=lambda i: "banana"
    )
    prediction = {
        "boxes": torch.tensor([[2.0, 2.0, 20.0, 20.0], [70.0, 45.0, 110.0, 75.0]]),
        "scores": torch.tensor([0.9, 0.35]),
        "labels": torch.tensor([0, 0]),
    }

    def drawn(options: dict) -> tuple[dict, np.ndarray]:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        out.mkdir()
        writer = build_writer(BoxPredictionWriter, out, options)
        assert isinstance(writer, BoxPredictionWriter)
        record = writer.write_item(task, prediction, tmp_path / "a.png", {"width": 120, "height": 80})
        return record, np.asarray(Image.open(record["output_image"]))

    default, default_image = drawn({"score_threshold": None})  # the task's own threshold (0.5)
    lower, lower_image = drawn({"score_threshold": 0.3})
    assert default["drawn_score_threshold"] == 0.5 and lower["drawn_score_threshold"] == 0.3
    assert len(default["detections"]) == len(lower["detections"]) == 2  # the JSON keeps every detection
    assert default_image.shape == (80, 120, 3)  # at the file's size, as the boxes in the record
    second_box = (slice(45, 76), slice(70, 111))  # far from the first box and its label
    assert (default_image[second_box] == 120).all()  # 0.35 < 0.5: not drawn
    assert not (lower_image[second_box] == 120).all()  # 0.35 >= 0.3: drawn


def test_caption_ids_are_unique_and_of_one_scheme_per_run(tmp_path):
    from types import SimpleNamespace

    from litvision.callbacks.writers.captions import CaptionPredictionWriter

    def ids(names):
        writer = CaptionPredictionWriter(tmp_path)
        writer.records = [{"file": f"in/{name}", "caption": "a cat", "file_name": name} for name in names]
        writer.on_predict_end(SimpleNamespace(is_global_zero=True), None)
        records = json.loads((tmp_path / "predictions.json").read_text())
        assert [r["file_name"] for r in records] == names and all(r["file"] for r in records)
        return [r["image_id"] for r in records]

    # issue 22: cmyk.jpg got a running index 1 and good1.jpg its trailing digit 1
    assert ids(["cmyk.jpg", "good1.jpg", "good2.jpg"]) == [1, 2, 3]
    assert ids(["COCO_val2014_000000391895.jpg", "000000000139.jpg"]) == [391895, 139]
    assert ids(["COCO_val2014_000000391895.jpg", "holiday.jpg"]) == [1, 2]  # never both schemes
    assert ids(["COCO_val2014_000000000007.jpg", "COCO_train2014_000000000007.jpg"]) == [1, 2]  # unique


def test_an_image_without_a_detection_above_the_threshold_says_so(tmp_path, caplog):
    import logging
    from types import SimpleNamespace

    import torch

    from litvision.callbacks.writers.boxes import BoxPredictionWriter

    Image.fromarray(np.full((80, 120, 3), 120, np.uint8)).save(tmp_path / "a.png")
    task = SimpleNamespace(
        draw_score_threshold=0.5, class_names=["banana"], category_ids=[], class_name=lambda i: "banana"
    )
    weak = {
        "boxes": torch.tensor([[2.0, 2.0, 20.0, 20.0]]),
        "scores": torch.tensor([0.35]),
        "labels": torch.tensor([0]),
    }
    none = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}
    (tmp_path / "out").mkdir()
    writer = BoxPredictionWriter(tmp_path / "out")
    with caplog.at_level(logging.INFO):
        weak_record = writer.write_item(task, weak, tmp_path / "a.png", {"width": 120, "height": 80})
        none_record = writer.write_item(task, none, tmp_path / "a.png", {"width": 120, "height": 80})
    assert weak_record["drawn"] == none_record["drawn"] == 0
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'a.png'}: no detection scored 0.5000 or more (the best scored 0.3500; "
        "predict.score_threshold=<lower> draws more)",
        f"{tmp_path / 'a.png'}: no detection scored 0.5000 or more (none; predict.score_threshold=<lower> draws more)",
    ]
