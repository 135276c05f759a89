"""What TensorBoard opens on: the bookkeeping series after the stage groups, HPARAMS trial ids that tell runs
apart in their first characters, whole numbers shown as such, and the link with the key series pinned."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from litvision.reports.hparams import write_hparams_session
from litvision.reports.tensorboard import TensorBoardLogger, pinned_series, pinned_url, tensorboard_tag, trial_name


def test_series_outside_the_stages_sort_after_them(tmp_path):
    assert [tensorboard_tag(n) for n in ("val/acc", "train/loss_step", "test/AP/cat", "epoch", "lr-SGD/base")] == [
        "val/acc", "train/loss_step", "test/AP/cat", "x/epoch", "x/lr-SGD/base",
    ]  # fmt: skip
    assert sorted(["x", "test", "train", "val"]) == ["test", "train", "val", "x"]  # TensorBoard sorts groups by name
    logger = TensorBoardLogger(save_dir=tmp_path, name="tensorboard", version="")
    logger.log_metrics({"val/acc": 0.5, "epoch": 0, "lr-SGD/base": 0.1}, step=3)
    logger.finalize("success")
    tags = EventAccumulator(str(tmp_path / "tensorboard")).Reload().Tags()["scalars"]
    assert sorted(tags) == ["val/acc", "x/epoch", "x/lr-SGD/base"]
    assert logger.logged == {"val/acc", "epoch", "lr-SGD/base"}  # the names as logged


def test_trial_names_start_with_what_tells_runs_apart(tmp_path):
    root = tmp_path / "outputs"
    job = root / "quickstart/multiruns/2026-12-07_03-15-49/1"
    assert trial_name(job, root, 1) == "#1 03:15:49 · quickstart/multiruns/2026-12-07_03-15-49/1"
    run = root / "fcn_voc/runs/2026-12-07_10-02-03"
    assert trial_name(run, root) == "10:02:03 · fcn_voc/runs/2026-12-07_10-02-03"
    elsewhere = tmp_path / "mine"
    assert trial_name(elsewhere, root) == f"mine · {elsewhere.resolve().as_posix()}"


def test_hparams_session_carries_the_trial_id_and_whole_numbers_as_text(tmp_path):
    hparams = {"lr": 0.1, "batch_size": 8, "max_epochs": 3, "pretrained": True, "net": "resnet18"}
    folder = write_hparams_session(tmp_path, hparams, {"val/acc": 0.5}, {"val/acc": 2}, "#0 03:15:49 · q/0")
    content = EventAccumulator(str(folder)).Reload().PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.group_name == "#0 03:15:49 · q/0"
    shown = {k: v.WhichOneof("kind") for k, v in start.hparams.items()}
    assert shown == {"lr": "number_value", "batch_size": "string_value", "max_epochs": "string_value",
                     "pretrained": "string_value", "net": "string_value"}  # fmt: skip
    assert start.hparams["batch_size"].string_value == "8"  # not TensorBoard's "8.0000"
    assert start.hparams["pretrained"].string_value == "true"  # not 1.0000


def test_pinned_series_lead_with_the_checkpoint_metric():
    logged = {"train/loss_step", "train/loss_epoch", "train/acc", "val/acc", "val/loss", "epoch", "lr-SGD/base"}
    assert pinned_series("val/acc", logged) == ["val/acc", "train/acc", "val/loss", "train/loss_epoch"]
    assert pinned_series("val/mask_mAP", {"val/mask_mAP", "train/loss"}) == ["val/mask_mAP", "train/loss"]
    assert pinned_series(None, {"test/acc"}) == []


def test_pinned_url_is_tensorboards_pinned_cards_parameter():
    url = pinned_url(["val/acc", "epoch"])
    parts = urlsplit(url)
    assert parts.fragment == "timeseries" and re.fullmatch(r"[!-~]+", url)  # one word a terminal can link
    cards = json.loads(parse_qs(parts.query)["pinnedCards"][0])
    assert cards == [{"plugin": "scalars", "tag": "val/acc"}, {"plugin": "scalars", "tag": "x/epoch"}]
