"""End-to-end captioning runs on the generated data: the offline experiments and the cs231n-layout
ones (read from the generated coco_captioning files), evaluation, checkpoints, TensorBoard, errors."""

import json
import shutil
from pathlib import Path

import h5py
import pytest
import torch
from conftest import FAST, REPO, compose_config, run_cli
from PIL import Image

from litvision.data.captions.cs231n import CS231nCaptioningDataModule
from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.inference.predict import predict
from litvision.runtime import run

SMALL = [
    *FAST,
    "data.batch_size=16",
    "data.download=false",
    "model.net.hidden_dim=32",
    "model.net.wordvec_dim=16",
    "trainer.max_epochs=1",
    "trainer.log_every_n_steps=1",
]


def synth(name, root):
    return [f"experiment={name}", f"data.root={root}", "data.features.image_size=64", *SMALL]


def cs231n(name, root):
    return [f"experiment={name}", f"data.root={root}", *SMALL]


@pytest.mark.slow
def test_attention_experiment_with_beam_search_logs_every_metric_and_the_attention_maps(caption_root, tmp_path):
    cfg = compose_config(
        synth("caption_synth_attention", caption_root) + ["model.beam_size=3", "model.net.attention_dim=8"],
        tmp_path / "run",
    )
    metrics = run.train(cfg)
    names = {"loss", "BLEU1", "BLEU2", "BLEU3", "BLEU4", "CIDEr", "composition"}
    assert {f"val/{n}" for n in names} | {f"test/{n}" for n in names} | {"train/loss"} <= set(metrics)
    assert 0.0 <= metrics["test/composition"] <= 1.0 and metrics["test/CIDEr"] >= 0.0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"val/captions", "val/attention/0", "val/attention/1"} <= set(events.Tags()["images"])
    from litvision.utils.captions import CARD_WIDTH

    for tag in ("val/captions", "val/attention/0"):  # no wider than TensorBoard's card: the text reads unscaled
        assert events.Images(tag)[-1].width <= CARD_WIDTH
    assert "val/captions/text_summary" in events.Tags()["tensors"]
    ckpt = torch.load(next((tmp_path / "run/checkpoints").glob("epoch*.ckpt")), weights_only=True)
    meta = ckpt["litvision"]["captioning"]
    assert meta["feature_shape"] == [320, 2, 2] and meta["encoder"]["layer"] == "block7_1"
    assert meta["idx_to_word"][:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    # predict.py on image files: COCO results records and per-word attention overlays
    images = tmp_path / "images"
    images.mkdir()
    for source in sorted((caption_root / "val2014").iterdir())[:2]:
        shutil.copy(source, images / source.name)
    best = next((tmp_path / "run/checkpoints").glob("epoch*.ckpt"))
    records = predict(compose_config([f"ckpt_path={best}", f"input={images}", "device=cpu"], tmp_path / "p", "predict"))
    assert [r["file_name"] for r in records] == sorted(p.name for p in images.iterdir())
    assert all(isinstance(r["image_id"], int) and isinstance(r["caption"], str) for r in records)
    assert records[0]["image_id"] == int(records[0]["file_name"][-16:-4])  # COCO_val2014_<id>.jpg
    assert json.loads((tmp_path / "p/predictions.json").read_text()) == records
    overlay = Image.open(records[0]["attention"])
    assert overlay.width > 2 * 64  # the image and one panel per generated word


@pytest.fixture(scope="module")
def coco_lstm_run(caption_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("coco_lstm") / "run"
    metrics = run.train(compose_config(cs231n("caption_coco_lstm", caption_root), out))
    return {"dir": out, "metrics": metrics, "best": next((out / "checkpoints").glob("epoch*.ckpt"))}


@pytest.mark.slow
def test_cs231n_layout_run_and_eval_reproduces_its_test_scores(coco_lstm_run, caption_root, tmp_path):
    cfg = compose_config(
        cs231n("caption_coco_lstm", caption_root) + [f"ckpt_path={coco_lstm_run['best']}"], tmp_path, "eval"
    )
    metrics = run.evaluate(cfg)
    for name in ("test/CIDEr", "test/BLEU4", "test/composition", "test/loss"):
        assert metrics[name] == pytest.approx(coco_lstm_run["metrics"][name], rel=1e-5, abs=1e-6)


@pytest.mark.slow
def test_predicting_an_image_file_gives_the_caption_of_its_stored_features(coco_lstm_run, caption_root, tmp_path):
    # the cs231n-layout checkpoint computes features from pixels: EfficientNet-Lite0 + the stored PCA
    data = CS231nCaptioningDataModule(caption_root)
    data.setup("fit")
    split = data.splits["val"]
    path = Path(split.image_names[0].removeprefix("file://"))
    records = predict(
        compose_config([f"ckpt_path={coco_lstm_run['best']}", f"input={path}", "device=cpu"], tmp_path, "predict")
    )
    ckpt = torch.load(coco_lstm_run["best"], weights_only=True)
    task = run.build(compose_config(cs231n("caption_coco_lstm", caption_root), tmp_path / "t").model)
    task.on_load_checkpoint(ckpt)
    task.load_state_dict(ckpt["state_dict"])
    task.eval()
    with torch.no_grad():
        expected = task.vocabulary.decode(task.decode(split.image_features(0)[None]).tokens[0])
    assert records[0]["caption"] == expected and "attention" not in records[0]


@pytest.mark.slow
def test_checkpoint_of_another_cell_or_other_data_is_refused(coco_lstm_run, caption_root, tmp_path):
    best = coco_lstm_run["best"]
    cfg = compose_config(cs231n("caption_coco_rnn", caption_root) + [f"ckpt_path={best}"], tmp_path / "a", "eval")
    with pytest.raises(CheckpointMismatchError, match="cell: checkpoint has lstm, this run builds rnn"):
        run.evaluate(cfg)
    # the same experiment on data with another vocabulary and feature size (Karpathy layout, pooled 1280-d)
    other = [*cs231n("caption_coco_lstm", caption_root), "data=caption_synth", "data.features.image_size=64"]
    cfg = compose_config(other + [f"data.root={caption_root}", f"ckpt_path={best}"], tmp_path / "b", "eval")
    with pytest.raises(CheckpointMismatchError, match=r"trained on other data: .* features of shape \(50,\)"):
        run.evaluate(cfg)


def test_bad_decoding_setting_is_a_config_error(tmp_path):
    cfg = compose_config(["experiment=caption_synth_lstm", "model.beam_size=0"], tmp_path)
    with pytest.raises(ConfigError, match=r"model.beam_size must be a positive integer, got 0"):
        run.build(cfg.model)


@pytest.mark.slow
def test_cli_reports_a_broken_h5_file_in_one_line_before_training(caption_root, tmp_path):
    root = shutil.copytree(caption_root / "coco_captioning", tmp_path / "coco_captioning")
    with h5py.File(root / "coco2014_captions.h5", "a") as f:
        del f["train_image_idxs"]
    args = [str(REPO / "train.py"), "experiment=caption_coco_rnn", f"data.root={root}", "data.download=false"]
    proc = run_cli([*args, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-2000:]
    assert "coco2014_captions.h5 has no dataset 'train_image_idxs'" in errors[0]
    assert not (tmp_path / "run" / "checkpoints").exists()
