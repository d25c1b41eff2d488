"""Plugin sources for the marketplace tests: stdlib plugin trees, a local wheel, archives (good and hostile)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "plugins" / "market"

#: The fields the gateway's InstalledPluginInfo schema requires (and the ones it reads).
GATEWAY_REQUIRED = ("name", "version", "status", "installed_at", "updated_at")
GATEWAY_READ = ("plugin_id", "install_type", "source_url", "latest_version", "is_dev_mode", "capabilities", "pid",
                "last_error", "description", "author")


def manifest_yaml(plugin_id: str, version: str, language: str = "python", extra: str = "") -> str:
    return (f"id: {plugin_id}\nname: {plugin_id}\nversion: {version}\ndescription: test plugin\nauthor: tests\n"
            f"build:\n  language: {language}\n{extra}")


def python_tree(path: str, plugin_id: str, version: str, *, wheel: bool = False, tools: list | None = None,
                crash: str | None = None, requirements: str | None = None, hang: bool = False) -> str:
    """A plugin directory: main.py (the stdlib raw plugin), meta.json, plugin.yml; optionally a wheel requirement."""
    os.makedirs(path, exist_ok=True)
    shutil.copy(HERE / "rawplugin.py", os.path.join(path, "main.py"))
    with open(os.path.join(path, "meta.json"), "w") as fh:
        json.dump({"id": plugin_id, "version": version, "tools": tools or [], "crash": crash, "hang": hang}, fh)
    with open(os.path.join(path, "plugin.yml"), "w") as fh:
        fh.write(manifest_yaml(plugin_id, version))
    if wheel:
        os.makedirs(os.path.join(path, "wheels"), exist_ok=True)
        make_wheel(os.path.join(path, "wheels", "greet_lib-1.0-py3-none-any.whl"))
        requirements = requirements or "./wheels/greet_lib-1.0-py3-none-any.whl\n"
    if requirements is not None:
        with open(os.path.join(path, "requirements.txt"), "w") as fh:
            fh.write(requirements)
    return path


def make_wheel(path: str) -> None:
    """A pure-Python wheel ``greet_lib`` 1.0 without dependencies (pip installs it with no network)."""
    files = {
        "greet_lib/__init__.py": "def greeting():\n    return 'greetings from greet_lib'\n",
        "greet_lib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: greet_lib\nVersion: 1.0\n",
        "greet_lib-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "greet_lib-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr("greet_lib-1.0.dist-info/RECORD", record)


def tar_gz(tree: str, top: str | None = None) -> bytes:
    """``tree`` as a .tar.gz (under the directory ``top`` when given)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        tf.add(tree, arcname=top or ".")
    return buffer.getvalue()


def hostile_tar(kind: str) -> bytes:
    """A .tar.gz with one hostile entry: ``dotdot``, ``absolute`` or ``symlink`` (to ``/``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        ok = tarfile.TarInfo("plugin/ok.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        if kind == "symlink":
            link = tarfile.TarInfo("plugin/root")
            link.type = tarfile.SYMTYPE
            link.linkname = "/"
            tf.addfile(link)
            through = tarfile.TarInfo("plugin/root/tmp/tgo-escaped")
            through.size = 1
            tf.addfile(through, io.BytesIO(b"x"))
        else:
            name = {"dotdot": "../../etc/x", "absolute": "/tmp/tgo-escaped-abs"}[kind]
            evil = tarfile.TarInfo(name)
            evil.size = 1
            tf.addfile(evil, io.BytesIO(b"x"))
    return buffer.getvalue()


def zip_bomb(path: str, gib: int = 1) -> None:
    """A zip holding one ``gib`` GiB file of zeros (a few MB compressed)."""
    chunk = b"\0" * (16 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("plugin/zeros.bin", "w", force_zip64=True) as fh:
            for _ in range(gib * 64):
                fh.write(chunk)
