"""Safe extraction of zip and tar archives: the whole archive is checked before anything is written.

Refused, with nothing extracted (UnsafeArchiveError naming the member):
- a member with an absolute path, or one whose `..` would take it outside the target;
- a member written through one of the archive's symbolic links, or beside a file of the same name
  (`a` a file, `a/b` a member: extraction would fail halfway);
- a symbolic link that is absolute, or whose target — followed through the archive's other links,
  chains included (`a/l1 -> ..`, `a/l1x -> l1/..`) — leaves the target;
- a hard link whose target, resolved from the archive root as tar does, leaves the target or is not
  a file stored earlier in the archive;
- device files and FIFOs; in zip archives, any symbolic link entry (zipfile would write it as a file).

Hand-written because no library does this on every Python the project admits: tarfile's
`filter="data"` (3.12, and the 3.8-3.11 security releases — not Debian 12's 3.11.2) checks each member
only as it extracts it, leaving the members before a refused one written, and zipfile silently
rewrites unsafe names. Where `filter="data"` exists it is still used, as a second line of defence;
without it the same permission clean-up is applied here. Standard library only, so this module runs on
any interpreter (the tests run it under /usr/bin/python3 when that lacks the filter).
"""

from __future__ import annotations

import copy
import os
import stat
import tarfile
import zipfile
from pathlib import Path

from litvision.errors import DataError, UnsafeArchiveError

MAX_LINK_HOPS = 40  # as the kernel's symlink limit: a longer chain is a loop


def _unsafe(archive: Path, name: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{archive}: member {name!r} {why}. Nothing was extracted; the archive is not trustworthy: delete it "
        "and download it again from the official source."
    )


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def _lexical(name: str) -> tuple[str, ...] | None:
    """`name` as components inside the target with `..` folded, or None when absolute or escaping."""
    if name.startswith("/"):
        return None
    parts: list[str] = []
    for c in _components(name):
        if c == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(c)
    return tuple(parts)


class _Checker:
    """Checks the members of an archive extracted into a fresh folder, so only its own links matter."""

    def __init__(self, archive: Path, members: list[tuple[str, str]]) -> None:
        """`members`: (name, kind) in archive order; kind is dir, file, hard link or symlink."""
        self.archive = archive
        self.links: dict[tuple[str, ...], str] = {}  # every symlink member: lexical path -> link target
        self.kinds: dict[tuple[str, ...], str] = {}
        self.earlier_files: set[tuple[str, ...]] = set()  # files stored so far (targets of hard links)
        folders: set[tuple[str, ...]] = set()  # every folder the members need, declared or not
        files: set[tuple[str, ...]] = set()
        for name, kind in members:
            where = _lexical(name)
            if where is None:
                continue  # refused by place()
            folders.update(where[:i] for i in range(1, len(where)))
            if kind == "dir":
                folders.add(where)
            elif kind != "symlink":
                files.add(where)
        self.file_folders = files & folders  # a path that is both: extraction would fail halfway

    def declare_link(self, name: str, target: str) -> None:
        where = _lexical(name)
        if where is not None:
            self.links[where] = target

    def place(self, name: str, kind: str) -> tuple[str, ...]:
        """Where a member lands; refuses escapes, paths through the archive's links and clashes."""
        if name.startswith("/"):
            raise _unsafe(self.archive, name, "has an absolute path, outside the target folder")
        parts: list[str] = []
        comps = _components(name)
        for i, c in enumerate(comps):
            if c == "..":
                if not parts:
                    raise _unsafe(self.archive, name, "would be written outside the target folder")
                parts.pop()
                continue
            parts.append(c)
            if i < len(comps) - 1 and tuple(parts) in self.links:
                raise _unsafe(self.archive, name, f"would be written through the symbolic link {'/'.join(parts)!r}")
        where = tuple(parts)
        if not where and kind != "dir":
            raise _unsafe(self.archive, name, "would replace the target folder itself")
        if where in self.file_folders:
            raise _unsafe(self.archive, name, "is stored both as a file and as a folder")
        earlier = self.kinds.get(where)
        if kind == "symlink" and earlier is not None:
            raise _unsafe(self.archive, name, f"is a symbolic link replacing a {earlier} of the same name")
        if kind != "symlink" and where in self.links:
            raise _unsafe(self.archive, name, "would be written onto a symbolic link of the archive")
        self.kinds[where] = kind
        return where

    def follow(self, start: tuple[str, ...], target: str, name: str) -> tuple[str, ...]:
        """Resolve a symlink target from its folder through the archive's links; refuse an escape."""
        if target.startswith("/"):
            raise _unsafe(self.archive, name, f"is a symbolic link to the absolute path {target!r}")
        parts, todo, hops = list(start), _components(target), 0
        while todo:
            c = todo.pop(0)
            if c == "..":
                if not parts:
                    raise _unsafe(
                        self.archive, name, f"is a symbolic link to {target!r}, which leads outside the target folder"
                    )
                parts.pop()
                continue
            parts.append(c)
            link = self.links.get(tuple(parts))
            if link is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise _unsafe(self.archive, name, "is a symbolic link in a loop of links")
                if link.startswith("/"):
                    raise _unsafe(self.archive, name, f"is a symbolic link through the absolute link {link!r}")
                parts.pop()
                todo = _components(link) + todo
        return tuple(parts)


def _tar_kind(m: tarfile.TarInfo) -> str:
    return "dir" if m.isdir() else "symlink" if m.issym() else "hard link" if m.islnk() else "file"


def _check_tar(archive: Path, members: list[tarfile.TarInfo]) -> None:
    checker = _Checker(archive, [(m.name, _tar_kind(m)) for m in members])
    for m in members:
        if m.issym():
            checker.declare_link(m.name, m.linkname)
    for m in members:
        if m.isdev():
            raise _unsafe(archive, m.name, "is a device file or FIFO")
        where = checker.place(m.name, _tar_kind(m))
        if m.issym():
            if not m.linkname:
                raise _unsafe(archive, m.name, "is a symbolic link without a target")
            checker.follow(where[:-1], m.linkname, m.name)
        elif m.islnk():
            target = _lexical(m.linkname)  # tar resolves a hard link's target from the archive root
            if target is None:
                raise _unsafe(archive, m.name, f"is a hard link to {m.linkname!r}, outside the target folder")
            if any(target[: i + 1] in checker.links for i in range(len(target))):
                raise _unsafe(archive, m.name, f"is a hard link through a symbolic link ({m.linkname!r})")
            if target not in checker.earlier_files:
                raise _unsafe(
                    archive, m.name, f"is a hard link to {m.linkname!r}, which is not a file stored before it"
                )
            checker.earlier_files.add(where)
        elif not m.isdir():
            checker.earlier_files.add(where)


def _check_zip(archive: Path, infos: list[zipfile.ZipInfo]) -> None:
    checker = _Checker(archive, [(i.filename, "dir" if i.is_dir() else "file") for i in infos])
    for info in infos:
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _unsafe(
                archive, info.filename, "is a symbolic link (litvision does not extract links from zip archives)"
            )
        checker.place(info.filename, "dir" if info.is_dir() else "file")


def _without_data_filter(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """What `filter="data"` does to permissions and owners, for Pythons without it."""
    member = copy.copy(member)
    if member.isdir() or member.issym():
        member.mode = 0o755
    else:
        member.mode = (member.mode & 0o755) | 0o600
        if not member.mode & 0o100:
            member.mode &= ~0o111
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    return member


def _extract_tar(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            _check_tar(archive, members)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(target, members=members, filter="data")
            else:
                tf.extractall(target, members=[_without_data_filter(m) for m in members], numeric_owner=True)
    except UnsafeArchiveError:
        raise
    except getattr(tarfile, "FilterError", ()) as err:  # the second line of defence spoke: same refusal
        raise _unsafe(archive, getattr(getattr(err, "tarinfo", None), "name", "?"), f"was refused ({err})") from err
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(
            f"{archive}: cannot extract it ({err}); the archive is corrupt or truncated: delete it "
            "and download it again."
        ) from err


def _extract_zip(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _check_zip(archive, infos)
            zf.extractall(target, members=infos)
    except UnsafeArchiveError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(
            f"{archive}: cannot extract it ({err}); the archive is corrupt or truncated: delete it "
            "and download it again."
        ) from err


def extract_archive(archive: str | Path, target: str | Path) -> Path:
    """Extract a .zip or .tar(.gz, .bz2, .xz) into `target` (created; meant to be a fresh folder, as
    litvision.data.core.prepare gives it) after checking every member. Returns `target`."""
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise DataError(f"{archive} does not exist or is not a file.")
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, target)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, target)
    else:
        raise DataError(f"{archive}: not a zip or tar archive. Delete it and download it again.")
    return target
