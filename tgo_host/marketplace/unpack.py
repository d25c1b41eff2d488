"""Unpacking release archives safely: ``.zip``, ``.tar.gz``/``.tgz`` (or one executable file).

An archive is refused as a whole (:class:`UnpackError` naming the entry and
the reason) when an entry has an absolute path, a ``..`` component, is a
device/fifo, is a link (symbolic or hard) whose target leaves the target
directory, or when the entries number more than ``max_files`` or unpack to
more than ``max_bytes`` — counted on the bytes actually written, not on the
sizes the archive declares (a zip bomb lies about those). Runs in a worker
thread (blocking I/O); a partly unpacked target is the caller's to delete.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from typing import IO

from ..errors import HostError

CHUNK = 1024 * 1024


class UnpackError(HostError):
    """An archive that is not unpacked: the message names the archive, the entry and the reason."""

    kind = "unpack_failed"


def archive_kind(name: str) -> str | None:
    """``"zip"``, ``"tar"`` or None (not an archive: the file is the executable itself)."""
    lower = name.lower().split("?", 1)[0]
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz")):
        return "tar"
    return None


def _safe_relpath(archive: str, name: str, target: str) -> str:
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnpackError(f"{archive}: entry {name!r} has an absolute path")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnpackError(f"{archive}: entry {name!r} leaves the target directory ('..')")
    if not parts:
        return ""
    full = os.path.join(target, *parts)
    root = os.path.realpath(target)
    if not os.path.realpath(os.path.dirname(full)).startswith(root):
        raise UnpackError(f"{archive}: entry {name!r} goes through a link out of the target directory")
    return full


class _Budget:
    def __init__(self, archive: str, max_bytes: int, max_files: int) -> None:
        self.archive = archive
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.bytes = 0
        self.files = 0

    def entry(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise UnpackError(f"{self.archive}: more than {self.max_files} entries (max_archive_files)")

    def copy(self, source: IO[bytes], target_path: str, name: str, mode: int) -> None:
        with open(target_path, "wb") as out:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                self.bytes += len(chunk)
                if self.bytes > self.max_bytes:
                    raise UnpackError(
                        f"{self.archive}: unpacks to more than {self.max_bytes} bytes at entry {name!r} (max_unpacked_bytes)"
                    )
                out.write(chunk)
        os.chmod(target_path, mode & 0o755 | 0o600)


def unpack(archive: str, target: str, *, max_bytes: int, max_files: int) -> None:
    """Unpack ``archive`` (by its name: zip or tar.gz) into the existing directory ``target``."""
    kind = archive_kind(archive)
    name = os.path.basename(archive)
    budget = _Budget(name, max_bytes, max_files)
    try:
        if kind == "zip":
            _unzip(archive, name, target, budget)
        elif kind == "tar":
            _untar(archive, name, target, budget)
        else:
            raise UnpackError(f"{name}: not a .zip, .tar.gz or .tgz archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise UnpackError(f"{name}: cannot unpack: {exc}") from None


def _unzip(archive: str, name: str, target: str, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            budget.entry()
            path = _safe_relpath(name, info.filename, target)
            if not path:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnpackError(f"{name}: entry {info.filename!r} is a symbolic link (not allowed in zip archives)")
            if info.is_dir():
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with zf.open(info) as source:
                budget.copy(source, path, info.filename, mode or 0o644)


def _untar(archive: str, name: str, target: str, budget: _Budget) -> None:
    root = os.path.realpath(target)
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            budget.entry()
            path = _safe_relpath(name, member.name, target)
            if not path:
                continue
            if member.isdir():
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if member.issym() or member.islnk():
                link = member.linkname
                if os.path.isabs(link):
                    raise UnpackError(f"{name}: entry {member.name!r} links to the absolute path {link!r}")
                base = os.path.dirname(path) if member.issym() else target
                resolved = os.path.realpath(os.path.join(base, link))
                if resolved != root and not resolved.startswith(root + os.sep):
                    raise UnpackError(f"{name}: entry {member.name!r} links to {link!r}, outside the target directory")
                if member.issym():
                    os.symlink(link, path)
                else:
                    shutil.copyfile(resolved, path)
                continue
            if not member.isfile():
                raise UnpackError(f"{name}: entry {member.name!r} is not a regular file, directory or link")
            source = tf.extractfile(member)
            assert source is not None
            with source:
                budget.copy(source, path, member.name, member.mode)
