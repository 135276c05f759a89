import io
import tarfile
import zipfile

import pytest

from litvision.data.core.download import download_file, extract_archive, sha1sum
from litvision.data.core.prepare import is_prepared, prepare_archive
from litvision.errors import ChecksumError, DataError, UnsafeArchiveError


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_download_verifies_and_extracts(tmp_path):
    (tmp_path / "src").mkdir()
    archive = _zip(tmp_path / "src/hotdog.zip", {"hotdog/train/hotdog/0.jpg": b"x", "hotdog/test/hotdog/0.jpg": b"y"})
    out = prepare_archive(
        tmp_path / "dl/hotdog.zip", tmp_path / "data/hotdog", url=archive.as_uri(), sha1=sha1sum(archive), top="hotdog"
    )
    assert out == tmp_path / "data/hotdog" and is_prepared(out)
    assert (out / "train/hotdog/0.jpg").read_bytes() == b"x"
    assert (tmp_path / "dl/hotdog.zip").is_file()
    assert not list((tmp_path / "dl").glob("*.part"))


def test_checksum_mismatch_removes_file_and_extracts_nothing(tmp_path):
    (tmp_path / "src").mkdir()
    archive = _zip(tmp_path / "src/a.zip", {"a/file.txt": b"data"})
    with pytest.raises(ChecksumError, match=r"a\.zip: SHA-1 is [0-9a-f]{40}, expected 0{40}"):
        prepare_archive(tmp_path / "dl/a.zip", tmp_path / "data/a", url=archive.as_uri(), sha1="0" * 40, top="a")
    assert [p.name for p in (tmp_path / "dl").iterdir()] == []  # neither the archive nor a partial download
    assert not (tmp_path / "data").exists()  # the folders a failed first preparation made are gone again


def test_existing_download_with_wrong_checksum_is_removed(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not the file")
    with pytest.raises(ChecksumError):
        download_file("file:///nonexistent", bad, sha1="1" * 40)
    assert not bad.exists()


def test_unreachable_url_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"Could not download file:///no/such/file.zip.*data\.download=false"):
        download_file("file:///no/such/file.zip", tmp_path / "file.zip")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "ok/../../evil.txt"])
def test_zip_member_escaping_target_is_refused(tmp_path, member):
    archive = _zip(tmp_path / "bad.zip", {"fine.txt": b"1", member: b"2"})
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()  # nothing extracted
    assert not (tmp_path / "evil.txt").exists()


def test_tar_symlink_escaping_target_is_refused(tmp_path):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("data/link")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        tf.addfile(link)
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, tmp_path / "out")


def test_tar_extracts(tmp_path):
    archive = tmp_path / "ok.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("VOCdevkit/VOC2012/a.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    out = extract_archive(archive, tmp_path / "out")
    assert (out / "VOCdevkit/VOC2012/a.txt").read_bytes() == b"abc"


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"hello")
    with pytest.raises(DataError, match="not a zip or tar"):
        extract_archive(junk, tmp_path / "out")
