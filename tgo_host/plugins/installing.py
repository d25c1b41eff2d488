"""Plugin directories on disk: which ones are launched, copying one into ``managed_plugins_dir``, removing it.

:func:`launchable` finds the plugins of ``plugin_dirs`` and of
``managed_plugins_dir`` (installed ones confined, duplicate ids refused).
An install (:func:`check_source`, then :func:`copy_plugin`) checks the source
against ``install_sources`` and confines its manifest *before* copying
anything, and leaves nothing behind when the copy or the copied manifest
fails. :func:`remove_plugin_files` deletes a plugin directory (in a thread).
The marketplace (:mod:`tgo_host.marketplace.installer`) fetches and builds
into the same directory and removes its files the same way.

Errors: :class:`~.supervisor_errors.InstallSourceError` (the caller's path
is not a plugin directory), :class:`~.confinement.SourceNotAllowed`,
:class:`~.manifest.ManifestError` (:class:`~.confinement.ManifestNotAllowed`),
:class:`~.supervisor_errors.InstallError` (the target exists, the copy failed).
"""

from __future__ import annotations

import os
import shutil
from functools import partial

import trio

from ..settings import Settings
from .confinement import allowed_local_source, confine
from .manifest import Manifest, ManifestError, discover, load_manifest, manifest_file
from .supervisor_errors import InstallError, InstallSourceError

COPY_IGNORED = ("__pycache__", ".git")  # not copied by an install


def managed_root(settings: Settings) -> str | None:
    """The absolute ``managed_plugins_dir`` (None when unset)."""
    root = settings.managed_plugins_dir
    return os.path.abspath(root) if root else None


def is_managed(settings: Settings, manifest: Manifest) -> bool:
    """Whether ``manifest``'s directory was installed into ``managed_plugins_dir``."""
    root = managed_root(settings)
    return root is not None and os.path.dirname(manifest.directory) == root


def launchable(settings: Settings, manifests: list[Manifest] | None = None) -> tuple[list[Manifest], list[ManifestError]]:
    """The manifests to launch and the errors of those refused.

    ``manifests`` None: discovered in ``plugin_dirs`` and ``managed_plugins_dir``.
    An installed manifest reaching outside its directory, or a second one with
    a known id, is refused (its error is returned; the others still launch).
    """
    errors: list[ManifestError] = []
    if manifests is None:
        dirs = [os.path.abspath(d) for d in settings.plugin_dirs]
        root = managed_root(settings)
        if root is not None and os.path.isdir(root) and root not in dirs:
            dirs.append(root)
        manifests, errors = discover(dirs)
    accepted: dict[str, Manifest] = {}
    for manifest in manifests:
        if is_managed(settings, manifest):
            try:
                confine(manifest)
            except ManifestError as exc:
                errors.append(exc)
                continue
        if manifest.id in accepted:
            errors.append(ManifestError(manifest.file, "id", f"duplicate plugin id {manifest.id!r}"))
            continue
        accepted[manifest.id] = manifest
    return list(accepted.values()), errors


def check_source(path: str, install_sources: list[str]) -> tuple[str, Manifest]:
    """The real path of the directory to install and its manifest, checked before anything is copied.

    Raises :class:`InstallSourceError` (not a directory, no ``plugin.yml``),
    :class:`SourceNotAllowed` (outside ``install_sources``),
    :class:`ManifestError` / :class:`ManifestNotAllowed`.
    """
    if not path or "\0" in path:
        raise InstallSourceError(f"cannot install {path!r}: not a directory path")
    source = allowed_local_source(path, install_sources)  # SourceNotAllowed
    if not os.path.isdir(source):
        raise InstallSourceError(f"cannot install {source}: not a directory")
    if manifest_file(source) is None:
        raise InstallSourceError(f"cannot install {source}: no plugin.yml in it")
    manifest = load_manifest(source)
    confine(manifest)  # ManifestNotAllowed before anything is copied
    return source, manifest


async def copy_plugin(source: str, root: str, plugin_id: str) -> Manifest:
    """Copy ``source`` to ``root/plugin_id``; returns the copy's (confined) manifest.

    Raises :class:`InstallError` when the target exists or the copy fails,
    :class:`ManifestError` when the copy's manifest is refused; on failure the
    partial copy is removed.
    """
    target = os.path.join(root, plugin_id)
    if os.path.lexists(target):
        raise InstallError(f"cannot install {plugin_id!r}: {target} already exists")
    try:
        await trio.to_thread.run_sync(_copy_tree, source, target, root)
    except OSError as exc:
        await remove_plugin_files(target)
        raise InstallError(f"cannot install {plugin_id!r}: copying {source} to {target} failed: {exc}") from None
    try:
        manifest = load_manifest(target)
        confine(manifest)
    except ManifestError:
        await remove_plugin_files(target)
        raise
    return manifest


async def remove_plugin_files(path: str) -> None:
    """Delete the directory ``path`` and everything in it (in a worker thread); a missing one is fine."""
    await trio.to_thread.run_sync(partial(shutil.rmtree, path, ignore_errors=True))


def _copy_tree(source: str, target: str, root: str) -> None:
    os.makedirs(root, mode=0o750, exist_ok=True)
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*COPY_IGNORED))
