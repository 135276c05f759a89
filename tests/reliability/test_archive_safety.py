"""Finding 4: the whole archive is refused before anything is written when a member would land or point
outside the target, on every admitted Python (also without tarfile's filter="data"); zip links refused."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

import litvision
from litvision.data.core.download import extract_archive
from litvision.errors import UnsafeArchiveError

SRC = Path(litvision.__file__).resolve().parents[1]  # the litvision under test, for another interpreter
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _tar(path: Path, members: list[tuple[str, str, str]]) -> Path:
    """members: (name, type, data or link target); type file / dir / sym / hard / chr."""
    with tarfile.open(path, "w") as tf:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size, info.mode = len(value), 0o4755 if value == "setuid" else 0o644
                tf.addfile(info, io.BytesIO(value.encode()))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            info.linkname = value
            info.mode = 0o755
            tf.addfile(info)
    return path


UNSAFE_TARS = {
    # tar resolves a hard link's target from the archive root: this one is <target>/../secret.txt
    "hard_link_from_the_root": [("a/b/file.txt", "file", "x"), ("a/b/h", "hard", "../secret.txt")],
    "symlink_chain": [("a/l1", "sym", ".."), ("a/l1x", "sym", "l1/..")],
    "symlink_out": [("ok.txt", "file", "x"), ("data/link", "sym", "../../etc")],
    "absolute_symlink": [("link", "sym", "/etc/passwd")],
    "file_through_a_symlink": [("d/l", "sym", ".."), ("d/l/../evil.txt", "file", "x")],
    "device": [("ok.txt", "file", "x"), ("dev/null", "chr", "")],
    "member_outside": [("ok.txt", "file", "x"), ("../evil.txt", "file", "x")],
}


@pytest.mark.parametrize("case", UNSAFE_TARS)
def test_unsafe_tar_is_refused_before_anything_is_written(tmp_path, case):
    archive = _tar(tmp_path / "bad.tar", UNSAFE_TARS[case])
    out = tmp_path / "work" / "out"
    with pytest.raises(UnsafeArchiveError, match=r"bad\.tar: member .* Nothing was extracted"):
        extract_archive(archive, out)
    assert not out.exists() or not any(out.iterdir())  # not even the members before the bad one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar", "work"]


def test_zip_symlink_entry_is_refused_with_one_line(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/readme.txt", "x")
        link = zipfile.ZipInfo("a/link")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../etc")
        zf.writestr("a/link/passwd", "y")
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"member 'a/link' is a symbolic link") as err:
        extract_archive(archive, out)
    assert "\n" not in str(err.value)
    assert not any(out.iterdir())


SAFE_TAR = [
    ("top", "dir", ""),
    ("top/a.txt", "file", "abc"),
    ("top/run.sh", "file", "setuid"),
    ("top/same.txt", "hard", "top/a.txt"),
    ("top/sub/link.txt", "sym", "../a.txt"),
]


def _check_safe_extraction(out: Path) -> None:
    assert (out / "top/a.txt").read_text() == "abc"
    assert (out / "top/same.txt").read_text() == "abc" and os.path.samefile(out / "top/same.txt", out / "top/a.txt")
    assert (out / "top/sub/link.txt").read_text() == "abc"
    assert not (out / "top/run.sh").stat().st_mode & stat.S_ISUID  # as filter="data" would


def test_tar_extracts_on_a_python_without_the_data_filter(tmp_path, monkeypatch):
    # Debian 12's /usr/bin/python3 (3.11.2) has no filter= keyword: every tar failed with a TypeError
    real_extractall = tarfile.TarFile.extractall
    # on a Python with filters, the real call names one (3.14 warns without); on 3.11.2 itself there is none
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}

    def extractall_of_3_11_2(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:
            raise TypeError(f"extractall() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return real_extractall(self, path, members, numeric_owner=numeric_owner, **trusted)

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall_of_3_11_2)
    _check_safe_extraction(extract_archive(_tar(tmp_path / "ok.tar", SAFE_TAR), tmp_path / "out"))
    with pytest.raises(UnsafeArchiveError):
        extract_archive(_tar(tmp_path / "bad.tar", UNSAFE_TARS["symlink_chain"]), tmp_path / "out2")


def test_tar_extraction_under_the_system_python(tmp_path):
    python = shutil.which(str(SYSTEM_PYTHON))
    if python is None:
        pytest.skip(f"{SYSTEM_PYTHON} is not installed")
    good, bad = _tar(tmp_path / "ok.tar", SAFE_TAR), _tar(tmp_path / "bad.tar", UNSAFE_TARS["hard_link_from_the_root"])
    code = (
        "import sys, tarfile\n"
        "from litvision.data.core.download import extract_archive\n"
        "from litvision.errors import UnsafeArchiveError\n"
        "print('filter' if hasattr(tarfile, 'data_filter') else 'no filter')\n"
        "extract_archive(sys.argv[1], sys.argv[2])\n"
        "try:\n    extract_archive(sys.argv[3], sys.argv[4])\n"
        "except UnsafeArchiveError as err:\n    print('refused:', err)\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": os.environ.get("PATH", "")}
    argv = [python, "-c", code, good, tmp_path / "out", bad, tmp_path / "out2"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "refused: " in proc.stdout and "hard link to '../secret.txt'" in proc.stdout
    _check_safe_extraction(tmp_path / "out")
    assert not any((tmp_path / "out2").iterdir())
