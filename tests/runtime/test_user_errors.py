"""What a user sees when something is wrong: one `error:` line naming the key, the value and what to do,
every missing input of a run in one message, archives put in place by hand used as the message says, and
eval.py / predict.py with their own help and the checkpoint's experiment."""

from __future__ import annotations

import hashlib
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import REPO, compose_config, run_cli
from entry_points import run_entry
from omegaconf import OmegaConf

from litvision import cli
from litvision.cli import CONFIG_DIR
from litvision.data.classification.cifar10 import CIFAR10Dataset
from litvision.data.core.prepare import is_prepared
from litvision.data.synth.cifar10 import write_cifar10
from litvision.data.synth.imagefolder import write_imagefolder
from litvision.errors import ChecksumError, ConfigError
from litvision.runtime import run
from litvision.runtime.build import build
from litvision.runtime.config_check import check_config
from litvision.runtime.eval_replay import eval_argv

NOT_BUILT = "the config check must come before anything is built"

BAD_VALUES = [
    (
        ["trainer.max_epochs=abc"],
        "error: trainer.max_epochs='abc' is not valid: expected a whole number >= -1 (-1: no limit), "
        "e.g. trainer.max_epochs=10",
    ),
    (
        ["trainer.max_epochs=1.5"],
        "error: trainer.max_epochs=1.5 is not valid: expected a whole number >= -1 (-1: no limit), "
        "e.g. trainer.max_epochs=10",
    ),
    (
        ["data.batch_size=abc"],
        "error: data.batch_size='abc' is not valid: expected a whole number >= 1, e.g. data.batch_size=32",
    ),
    (
        ["model.optimizer.lr=abc"],
        "error: model.optimizer.lr='abc' is not valid: expected a number > 0, e.g. model.optimizer.lr=0.01",
    ),
    (
        ["data=imagefolder"],
        "error: data.root is required and has no value: add data.root=<the folder holding train/ and test/>",
    ),
    (
        ["trainer.precision=17"],
        "error: trainer.precision=17 is not valid: expected one of 64, 64-true, 32, 32-true, 16, 16-mixed, "
        "16-true, bf16, bf16-mixed, bf16-true, e.g. trainer.precision=bf16-mixed",
    ),
    (
        ["model.compile=fast"],
        "error: model.compile='fast' is not valid: expected null or one of default, reduce-overhead, max-autotune, "
        "max-autotune-no-cudagraphs, e.g. model.compile=default",
    ),
    (
        ["data.decode_on=gpu"],
        "error: data.decode_on='gpu' is not valid: expected cpu or device, e.g. data.decode_on=device",
    ),
    (
        ["data.prefetch_factor=0"],
        "error: data.prefetch_factor=0 is not valid: expected a whole number >= 1 or null, e.g. data.prefetch_factor=4",
    ),
]


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")))
def test_every_experiment_passes_the_check_as_shipped(experiment, tmp_path):
    check_config(compose_config([f"experiment={experiment}"], tmp_path / "t"))

    check_config(compose_config([f"experiment={experiment}", "ckpt_path=x.ckpt"], tmp_path / "e", "eval"))


def test_every_trainer_and_debug_option_passes_the_check(tmp_path):
    for option in ("trainer=ddp", "trainer=ddp_cpu", "trainer=gpu", "debug=fdr", "debug=overfit", "debug=profiler"):
        check_config(compose_config([option], tmp_path / option))


def _never_built(*args, **kwargs):
    raise AssertionError(NOT_BUILT)


@pytest.mark.parametrize(("overrides", "expected"), BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_a_wrong_value_is_one_error_line_before_anything_is_built(overrides, expected, tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(run, "build_data_and_model", _never_built)
    result = run_entry(cli.train, [*overrides, f"hydra.run.dir={tmp_path / 'run'}"], capfd)
    assert result.code == 1
    assert result.error_lines == [expected]
    message = expected.removeprefix("error: ")
    assert (result.out + result.err).count(message) == 1  # printed once, not as a log line as well
    assert "Traceback" not in result.err
    assert message in (tmp_path / "run/train.log").read_text()  # the run's log records it


def test_an_interpolation_that_cannot_be_resolved_is_one_line_naming_the_key(tmp_path, capfd):
    # issue 22: a 72-line OmegaConf traceback from inside hydra.utils.instantiate
    args = ["experiment=caption_synth_rnn", "data.prepare=null", f"paths.data_dir={tmp_path / 'data'}"]
    result = run_entry(cli.train, [*args, f"hydra.run.dir={tmp_path / 'run'}"], capfd)
    assert result.code == 1
    (line,) = result.error_lines
    assert line.startswith("error: data.root: ${paths.data_dir}/caption_synth/${data.prepare.image_size}px")
    assert "node `data.prepare` is not a container" in line and line.endswith("set data.root or what it refers to")
    assert "Traceback" not in result.err and "raised while resolving" not in line
    with pytest.raises(ConfigError, match=r"^model\.x: \$\{model\.nothere\} cannot be resolved \(Interpolation key"):
        build(OmegaConf.create({"model": {"_target_": "builtins.dict", "x": "${model.nothere}"}}).model)


def test_a_wrong_value_on_the_real_command_line(tmp_path):
    proc = run_cli([str(REPO / "train.py"), "trainer.max_epochs=abc"], tmp_path, check=False)
    assert proc.returncode == 1
    assert [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line.lower()] == [BAD_VALUES[0][1]]


def test_predict_without_a_checkpoint_says_what_to_add(tmp_path, capfd):
    result = run_entry(cli.predict, [f"hydra.run.dir={tmp_path / 'p'}"], capfd, "predict.py")
    assert result.code == 1
    # input is not named: whether it is needed depends on the checkpoint (a GAN samples without input files)
    assert result.error_lines == [
        "error: ckpt_path is required and has no value: add ckpt_path=<a .ckpt file written by train.py>"
    ]
    assert "Traceback" not in result.err and "MissingMandatoryValue" not in result.err


def test_a_wrong_predict_option_value_is_one_error_line(tmp_path, capfd):
    args = ["ckpt_path=x.ckpt", f"input={tmp_path}", "predict.score_threshold=abc", f"hydra.run.dir={tmp_path / 'p'}"]
    result = run_entry(cli.predict, args, capfd, "predict.py")
    assert result.code == 1
    assert result.error_lines == [
        "error: predict.score_threshold='abc' is not valid: expected a score in [0, 1], "
        "e.g. predict.score_threshold=0.3"
    ]


def test_eval_and_predict_print_their_own_help(capfd):
    evaluate = run_entry(cli.evaluate, ["--help"], capfd, "eval.py")
    predict = run_entry(cli.predict, ["--help"], capfd, "predict.py")
    assert evaluate.code == predict.code == 0
    assert evaluate.out.startswith("litvision eval: the test-split metrics of a checkpoint")
    assert "python eval.py ckpt_path=" in evaluate.out and "python train.py" not in evaluate.out
    assert predict.out.startswith("litvision predict: run a checkpoint written by train.py on image files")
    assert "predict.score_threshold=" in predict.out and "python train.py" not in predict.out


def test_export_prints_its_own_help(capfd):
    result = run_entry(cli.export, ["--help"], capfd, "export.py")
    assert result.code == 0
    assert result.out.startswith("litvision export: write a checkpoint's network as ONNX or TorchScript")
    assert "format=onnx|torchscript" in result.out and "output=<path>" in result.out
    assert "fast_style_transfer" in result.out  # which checkpoints can be exported
    assert "python train.py" not in result.out


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (cli.synth, "usage: litvision-synth"),
        (cli.classes, "The names of the 1000 ImageNet classes"),
        (cli.main, "usage:"),
    ],
)
def test_console_scripts_answer_help(entry, expected, capfd, monkeypatch):
    monkeypatch.setattr("sys.argv", ["litvision", "--help"])
    try:
        entry()
    except SystemExit as stop:
        assert stop.code in (None, 0), stop.code
    out = capfd.readouterr().out
    assert out.startswith(expected) and "no ImageNet class name" not in out
    if entry is cli.synth:
        assert "  voc: Write a small Pascal VOC2012-format segmentation set" in out


def test_help_leads_with_an_offline_sweep(tmp_path, capfd):
    result = run_entry(cli.train, ["--help"], capfd)
    sweep = next(line for line in result.out.splitlines() if "(grid sweep" in line)
    assert "experiment=quickstart " in sweep  # offline; hotdog_finetune downloads its data and weights


def test_every_missing_input_of_an_offline_run_in_one_message(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    args = ["experiment=hotdog_finetune", "data.download=false", f"paths.data_dir={tmp_path / 'data'}"]
    result = run_entry(cli.train, [*args, f"hydra.run.dir={tmp_path / 'run'}"], capfd)
    assert result.code == 1
    (line,) = result.error_lines
    assert line.startswith("error: this run is missing 2 inputs: (1) ImageNet weights resnet18-f37072fd.pth")
    assert "[config: model.net]" in line  # which `weights` to set
    assert f"(2) {tmp_path / 'data/hotdog'} does not exist, and neither does {tmp_path / 'data/hotdog.zip'}" in line


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def _zip_tree(folder: Path, archive: Path) -> str:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, Path(folder.name) / path.relative_to(folder))
    return hashlib.sha1(archive.read_bytes()).hexdigest()


def test_a_hotdog_zip_put_where_the_message_says_is_verified_and_extracted(tmp_path):
    data_dir = tmp_path / "data"
    overrides = ["experiment=hotdog_finetune", "model.net.weights=null", f"paths.data_dir={data_dir}"]
    cfg = compose_config([*overrides, "data.download=false"], tmp_path / "run")
    with pytest.raises(Exception) as missing:
        build(cfg.data).prepare_data()
    archive = data_dir / "hotdog.zip"
    # the advice: exactly where to put the archive, and that download=false then uses it
    assert f"put hotdog.zip (from {cfg.data.prepare.url}, SHA-1 {cfg.data.prepare.sha1}) at {archive}" in str(
        missing.value
    )
    assert "verified and extracted on the next run, with data.download=false as well" in str(missing.value)
    tree = write_imagefolder(
        tmp_path / "made/hotdog",
        {"hotdog": ["coffee"], "not-hotdog": ["rocket"]},
        {"train": 2, "test": 1},
        size=(24, 32),
    )
    data_dir.mkdir()
    sha1 = _zip_tree(tree, archive)
    with pytest.raises(ChecksumError, match="Nothing was extracted and the file was left as it is"):
        build(cfg.data).prepare_data()  # the official SHA-1: this zip is not the official one
    assert archive.is_file() and not (data_dir / "hotdog").exists()
    cfg = compose_config([*overrides, "data.download=false", f"data.prepare.sha1={sha1}"], tmp_path / "run")
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert len(datamodule.train_set) == 4 and datamodule.classes == ["hotdog", "not-hotdog"]
    assert is_prepared(data_dir / "hotdog")  # through litvision.data.core.prepare: marked complete, like a download


def test_a_cifar10_archive_put_by_hand_is_used_with_download_false(tmp_path, monkeypatch):
    made = write_cifar10(tmp_path / "made", train_per_class=1, test_per_class=1)
    root = tmp_path / "cifar10"
    root.mkdir()
    archive = root / CIFAR10Dataset.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(made / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10Dataset, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    cfg = compose_config(
        ["experiment=cifar10_aug", f"data.root={root}", "data.download=false", "data.verify_checksums=false"],
        tmp_path / "run",
    )
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert (root / "cifar-10-batches-py/data_batch_1").is_file() and len(datamodule.test_set) == 10
    assert is_prepared(root / "cifar-10-batches-py")


def _checkpoint(path: Path, experiment: str | None, overrides: list[str]) -> Path:
    meta = {"task": "litvision.tasks.classification.ClassificationTask", "config": {}}
    if experiment:
        meta |= {"experiment": experiment, "overrides": overrides}
    torch.save({"state_dict": {}, "litvision": meta}, path)
    return path


def test_eval_composes_the_experiment_the_checkpoint_records(tmp_path):
    recorded = [
        "experiment=hotdog_finetune",
        "data.batch_size=8",
        "paths.data_dir=/d",
        "trainer.max_epochs=3",
        "debug=limit",
    ]
    ckpt = _checkpoint(tmp_path / "a.ckpt", "hotdog_finetune", recorded)
    # the experiment, then what shaped the model and its data; eval's own command line last (and winning)
    assert eval_argv(["eval.py", f"ckpt_path={ckpt}", "data.batch_size=2"]) == [
        "eval.py",
        "experiment=hotdog_finetune",
        "paths.data_dir=/d",
        "debug=limit",
        f"ckpt_path={ckpt}",
        "data.batch_size=2",
    ]
    explicit = ["experiment=hotdog_finetune", f"ckpt_path={ckpt}"]  # the same experiment, named: accepted
    assert eval_argv(["eval.py", *explicit]) == [
        "eval.py",
        "data.batch_size=8",
        "paths.data_dir=/d",
        "debug=limit",
        *explicit,
    ]
    with pytest.raises(
        ConfigError,
        match=r"a\.ckpt was trained with experiment hotdog_finetune, but experiment=quickstart was given: drop "
        r"experiment= \(eval.py uses the checkpoint's\) or pass experiment=hotdog_finetune",
    ):
        eval_argv(["eval.py", "experiment=quickstart", f"ckpt_path={ckpt}"])
    old = _checkpoint(tmp_path / "old.ckpt", None, [])  # records no experiment: the command line as given
    assert eval_argv(["eval.py", f"ckpt_path={old}"]) == ["eval.py", f"ckpt_path={old}"]


def test_eval_with_another_experiment_is_one_error_line_naming_both(tmp_path, capfd):
    ckpt = _checkpoint(tmp_path / "a.ckpt", "hotdog_finetune", ["experiment=hotdog_finetune"])
    result = run_entry(cli.evaluate, ["experiment=cifar10_aug", f"ckpt_path={ckpt}"], capfd, "eval.py")
    assert result.code == 1
    assert result.error_lines == [
        f"error: checkpoint {ckpt} was trained with experiment hotdog_finetune, but experiment=cifar10_aug was "
        "given: drop experiment= (eval.py uses the checkpoint's) or pass experiment=hotdog_finetune"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["experiment=fcn_voc_synht"],
            r"experiment=fcn_voc_synht: no such option .*did you mean experiment=fcn_voc_synth\?",
        ),
        (["logger=[tensorboard,mlfow]"], r"logger=mlfow: no such option .*did you mean logger=mlflow\?"),
        (["+callbacks/ema=nope"], r"callbacks/ema=nope: no such option in the config group callbacks/ema"),
        # a mistyped key: Hydra's five lines named no existing key
        (
            ["experiment=fcn_voc_synth", "model.optimizer.lrr=0.1"],
            r"^error: model.optimizer.lrr=0.1: model.optimizer has no key lrr; did you mean model.optimizer.lr\? "
            r"\(\+model.optimizer.lrr=0.1 adds a key",
        ),
        (["data.batchsize=3"], r"data.batchsize=3: data has no key batchsize; did you mean data.batch_size\?"),
        (["modle.optimizer.lr=1"], r"modle.optimizer.lr=1: the config has no key modle; did you mean model\?"),
    ],
)
def test_a_mistyped_config_choice_is_one_line(args, message, capfd):
    """Hydra's own message for a missing config lists every option over a dozen lines (issue 22.5)."""
    result = run_entry(cli.train, args, capfd)
    assert result.code == 1
    assert len(result.error_lines) == 1 and re.search(message, result.error_lines[0]), result.out + result.err
    assert "Traceback" not in result.out + result.err
