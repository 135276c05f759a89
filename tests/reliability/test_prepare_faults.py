"""Data preparation under kills, races and bad folders (issue findings 1, 2, 3 and the data half of 8):
children are stopped at a known point (faults.Child) and killed with os.kill, or paused while a second
run starts; afterwards the real readers must find the complete data set, or one clear error."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import faults
import pytest
from faults import can_meet_permissions, run_two_at_once, run_unprivileged, zip_tree

from litvision.data.classification.imagefolder import ImageFolderDataModule, fetch_archive
from litvision.data.detection.bananas import BananasDataModule
from litvision.data.formats.banana_csv import read_banana_split
from litvision.data.formats.voc import find_voc_dir, read_split
from litvision.data.segmentation.voc import scan_split
from litvision.data.synth.bananas import generate_bananas
from litvision.data.synth.voc import export_voc_synth
from litvision.errors import DataError

spawn = faults.spawn  # the fixture

BANANAS = dict(num_train=12, num_val=4, image_size=32, seed=3)
VOC = dict(num_train=6, num_val=3, height=32, width=40, seed=3)
GENERATORS = {
    "bananas": ("litvision.data.synth.bananas:generate_bananas", BANANAS),
    "voc": ("litvision.data.synth.voc:export_voc_synth", VOC),
}


def _check_complete(kind: str, root: Path) -> None:
    """The real reader accepts the data set and finds every image."""
    if kind == "bananas":
        assert len(read_banana_split(root / "bananas_train")) == BANANAS["num_train"]
        assert len(read_banana_split(root / "bananas_val")) == BANANAS["num_val"]
    else:
        voc_dir = find_voc_dir(root)
        for split, count in (("train", VOC["num_train"]), ("val", VOC["num_val"])):
            ids = read_split(voc_dir, split)
            assert len(ids) == count and len(scan_split(voc_dir, ids, threads=1)) == count


def _left_overs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name)


@pytest.mark.parametrize("kind", GENERATORS)
def test_two_runs_generating_the_same_data_at_once_both_get_the_complete_set(tmp_path, spawn, kind):
    # finding 1: the second run used to delete the first one's fixed `<root>.partial` and write into it
    call, args = GENERATORS[kind]
    root = tmp_path / "racedata"
    run_two_at_once(spawn, call, args, root)
    _check_complete(kind, root)
    assert not _left_overs(tmp_path)


def test_a_killed_imagefolder_extraction_is_redone_not_trained_on(tmp_path, spawn, data_root):
    # finding 2: extraction went straight into the data folder; a rerun trained on what was there
    archive = tmp_path / "served/hotdog.zip"
    archive.parent.mkdir()
    sha1 = zip_tree(data_root / "hotdog", archive, "hotdog")
    root = tmp_path / "data/hotdog"
    kwargs = {"root": str(root), "url": archive.as_uri(), "sha1": sha1}
    child = spawn("litvision.data.classification.imagefolder:fetch_archive", kwargs, match="/hotdog/", after_files=12)
    assert child.wait_for("STOPPED")  # test/ complete (8 files), train/ half written
    child.kill()
    prepare = partial(fetch_archive, url=archive.as_uri(), sha1=sha1)
    dm = ImageFolderDataModule(str(root), 2, batch_size=4, num_workers=0, download=True, prepare=prepare)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 16 and len(dm.test_set) == 8
    assert not _left_overs(tmp_path / "data")


def test_a_killed_banana_archive_extraction_is_redone_not_trained_on(tmp_path, spawn):
    source = generate_bananas(tmp_path / "source", **BANANAS)
    archive = tmp_path / "served/banana-detection.zip"
    archive.parent.mkdir()
    sha1 = zip_tree(source, archive, "banana-detection")
    root = tmp_path / "data/bananas"
    kwargs = {"root": str(root), "download": True, "url": archive.as_uri(), "sha1": sha1}
    # train split (12 images + label.csv) written, val split begun
    child = spawn(
        "litvision.data.detection.bananas:BananasDataModule",
        kwargs,
        match="/bananas_",
        method="prepare_data",
        after_files=15,
    )
    assert child.wait_for("STOPPED")
    child.kill()
    dm = BananasDataModule(**kwargs, num_workers=0)
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) == BANANAS["num_train"] and len(dm.val_set) == BANANAS["num_val"]
    assert not _left_overs(tmp_path / "data")


@pytest.mark.parametrize("stop", [{"after_renames": 2}, {"after_files": 19}], ids=["between_renames", "before_publish"])
def test_a_generator_killed_at_the_end_recovers_on_the_next_run(tmp_path, spawn, stop):
    # finding 3: killed between the generator's final renames, every later run failed (Directory not empty)
    root = tmp_path / "gendata"
    child = spawn(
        "litvision.data.synth.bananas:generate_bananas", {"root": str(root), **BANANAS}, match="gendata", **stop
    )
    if child.wait_for("STOPPED", "DONE").startswith("STOPPED"):
        child.kill()
    dm = BananasDataModule(root, download=True, prepare=partial(generate_bananas, **BANANAS), num_workers=0)
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) == BANANAS["num_train"] and len(dm.val_set) == BANANAS["num_val"]
    assert not _left_overs(tmp_path)


@pytest.mark.parametrize("kind", GENERATORS)
def test_data_root_pointing_at_a_file_is_one_error_before_any_work(tmp_path, kind):
    # finding 8: bananas_synth generated all images first, voc_synth left afile.partial behind
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    prepare = {"bananas": generate_bananas, "voc": export_voc_synth}[kind]
    with pytest.raises(DataError, match=r"afile is a file, but .* needs a folder there"):
        prepare(afile, **GENERATORS[kind][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_an_unwritable_data_folder_is_one_error_before_any_work(tmp_path, spawn):
    # finding 8: a read-only paths.data_dir gave a 70-line traceback
    if not can_meet_permissions():
        pytest.skip("running as root without CAP_SETPCAP: read-only folders cannot be simulated")
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o555)
    code = (
        "from litvision.data.synth.bananas import generate_bananas\n"
        "from litvision.errors import LitvisionError\n"
        f"try: generate_bananas({str(data_dir / 'bananas')!r}, num_train=2, num_val=1, image_size=32)\n"
        "except LitvisionError as err: raise SystemExit(f'error: {err}')\n"
    )
    proc = run_unprivileged(["-c", code], cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: cannot write into {data_dir} (Permission denied)")
    assert list(data_dir.iterdir()) == []


def test_an_unmarked_data_folder_is_refused_with_what_to_delete(tmp_path):
    # a folder that holds data without the completion marker (an older interrupted run, or files put
    # there by hand) is never taken as prepared
    root = tmp_path / "bananas"
    (root / "bananas_train/images").mkdir(parents=True)
    dm = BananasDataModule(root, download=True, prepare=partial(generate_bananas, **BANANAS), num_workers=0)
    with pytest.raises(
        DataError, match=rf"{root} was not completely prepared .*Delete {root} to prepare it again.*download=false"
    ):
        dm.prepare_data()
