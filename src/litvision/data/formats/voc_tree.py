"""Finding, downloading or generating a Pascal VOC2012 tree under a root: what the VOC data modules
(semantic and instance segmentation) share before they read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from litvision.data.core.prepare import is_prepared, prepare_archive
from litvision.data.formats.voc import VOC_SHA1, VOC_URL, find_voc_dir
from litvision.errors import DataError


def _check_voc_archive(archive: Path):
    def check(devkit: Path) -> None:
        if find_voc_dir(devkit) is None:
            raise DataError(f"{archive} holds no VOCdevkit/VOC2012 folder: it is not the VOC2012 archive.")

    return check


class VOCTree:
    """The VOC2012 folder under `root` (root/VOCdevkit/VOC2012, root/VOC2012 or root itself).

    `prepare_data()` creates it when `download` is set and it is missing: with `prepare` (a callable
    taking root, e.g. the offline generator of data=voc_synth), or else by downloading the official
    archive from `url` (SHA-1 `sha1`). A VOCtrainval_11-May-2012.tar put into root by hand is
    extracted either way."""

    def __init__(
        self,
        root: str | Path = "data/voc",
        download: bool = False,
        prepare: Callable[[Path], Any] | None = None,
        url: str = VOC_URL,
        sha1: str | None = VOC_SHA1,
    ) -> None:
        self.root = Path(root).expanduser()
        self.download = download
        self.prepare = prepare
        self.url, self.sha1 = url, sha1

    @property
    def archive(self) -> Path:
        return self.root / self.url.rsplit("/", 1)[-1]

    def missing_error(self) -> DataError:
        expected = (
            f"Pascal VOC2012 not found under {self.root}: expected {self.root}/VOCdevkit/VOC2012 with "
            "ImageSets/Segmentation, JPEGImages and SegmentationClass."
        )
        if self.prepare is not None:
            return DataError(f"{expected} Set data.download=true to generate it, or point data.root at a copy.")
        return DataError(
            f"{expected} Set data.download=true to fetch {self.url} (2 GB), or download "
            f"{self.archive.name} yourself (SHA-1 {self.sha1 or VOC_SHA1}) and put it at {self.archive} (it is "
            "verified and extracted on the next run, with data.download=false as well), or point data.root at "
            "an existing VOCdevkit/VOC2012 "
            "folder with data.download=false."
        )

    def prepare_data(self) -> None:
        found = find_voc_dir(self.root)
        if self.prepare is not None:  # generated: root is the prepared folder
            if self.download:
                self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
            elif found is None:
                raise self.missing_error()
        elif self.download or (found is None and self.archive.is_file()):
            devkit = self.root / "VOCdevkit"
            if self.download and found is not None and found != devkit / "VOC2012" and not is_prepared(devkit):
                raise DataError(
                    f"{found} holds VOC2012 data that litvision did not prepare: read it as it is with "
                    "data.download=false, or point data.root at a folder for the download."
                )
            prepare_archive(
                self.archive,
                devkit,
                url=self.url if self.download else None,
                sha1=self.sha1,
                top="VOCdevkit",
                what="Pascal VOC2012",
                check=_check_voc_archive(self.archive),
            )
        elif found is None:
            raise self.missing_error()
        if find_voc_dir(self.root) is None:
            raise DataError(f"created the data in {self.root}, but found no VOCdevkit/VOC2012 in it.")

    @property
    def voc_dir(self) -> Path:
        voc_dir = find_voc_dir(self.root)
        if voc_dir is None:
            raise self.missing_error()
        return voc_dir
