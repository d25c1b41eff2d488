"""Where a plugin comes from: URL resolution (GitHub, Gitee, any URL), the install-source check, bounded fetches.

* :func:`manifest_candidates` turns a pasted URL into the raw ``plugin.yml``
  URLs to try, in order (the rules of the TGO gateway; the code-host bases
  are settings so a mirror, or a test, can stand in for GitHub/Gitee).
* :func:`source_allowed` checks a URL against ``install_sources``: same
  scheme and host (and port), path under the prefix's path. Userinfo in a
  URL (``https://github.com@evil/``) is refused outright.
* :class:`Fetcher` GETs with a timeout, a byte limit and a bounded number of
  redirects, each redirect target re-checked against ``install_sources``.
* :func:`fetch_info` is ``POST /plugins/fetch-info``: the first candidate
  that answers 200, parsed and validated into a :class:`PluginConfig`.

Every failure is a :class:`SourceError` naming the URL and the reason.
"""

from __future__ import annotations

import hashlib
import os
import platform
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import httpx
import yaml

from ..errors import HostError
from ..settings import Settings
from ..plugins.manifest import Text
from .models import ConfigError, GitSource, PluginConfig, plugin_config

MANIFEST_NAMES = ("plugin.yml", "plugin.yaml")


class SourceError(HostError):
    """A URL that is not allowed, cannot be fetched or holds no usable manifest (the message says which)."""

    kind = "fetch_failed"
    status_hint = 400


# -- the install-source check ---------------------------------------------------------


def _origin_and_path(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), str(parts.port or ""), parts.path or "/"


def source_allowed(url: str, sources: list[str]) -> bool:
    """Whether ``url`` starts with one of the http(s) prefixes of ``sources`` (local dirs are ignored here)."""
    try:
        parts = urlsplit(url)
        scheme, host, port, path = _origin_and_path(url)
    except ValueError:
        return False
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return False
    for prefix in sources:
        if not prefix.startswith(("http://", "https://")):
            continue
        p_scheme, p_host, p_port, p_path = _origin_and_path(prefix)
        if (scheme, host, port) != (p_scheme, p_host, p_port):
            continue
        if p_path.endswith("/") and path.startswith(p_path):
            return True
        if path == p_path or path.startswith(p_path + "/"):
            return True
    return False


def check_source(url: str, settings: Settings, what: str = "URL") -> None:
    """Raise :class:`SourceError` unless ``url`` is under one of ``settings.install_sources``."""
    if not source_allowed(url, settings.install_sources):
        allowed = ", ".join(s for s in settings.install_sources if "://" in s) or "none"
        raise SourceError(f"{what} {url} is not an allowed install source (install_sources: {allowed})")


def local_source_allowed(path: str, sources: list[str]) -> bool:
    """Whether the local directory ``path`` lies inside one of the local directories of ``sources``."""
    real = os.path.realpath(path)
    for source in sources:
        if "://" in source:
            continue
        root = os.path.realpath(source)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


# -- URL resolution ------------------------------------------------------------------------


def _strip(base: str) -> str:
    return base.rstrip("/")


def _code_host(url: str, settings: Settings) -> tuple[str, list[str]] | None:
    """``("github"|"gitee", path segments after the host base)`` when ``url`` is on a code host."""
    bases = (
        ("github", [settings.github_base_url, "https://github.com"]),
        ("gitee", [settings.gitee_base_url, "https://gitee.com"]),
    )
    for name, candidates in bases:
        for base in candidates:
            base = _strip(base)
            if url == base or url.startswith(base + "/"):
                rest = urlsplit(url[len(base):]).path
                segments = [s for s in rest.split("/") if s]
                if len(segments) >= 2:
                    return name, segments
    return None


def _raw_url(host: str, owner: str, repo: str, ref: str, path: str, settings: Settings) -> str:
    path = "/".join(s for s in path.split("/") if s)
    if host == "github":
        base = f"{_strip(settings.github_raw_base_url)}/{owner}/{repo}/{ref}"
    else:
        base = f"{_strip(settings.gitee_base_url)}/{owner}/{repo}/raw/{ref}"
    return f"{base}/{path}" if path else base


class Candidate:
    """One URL to try for a manifest, and the git source it stands for (code hosts only)."""

    def __init__(self, url: str, host: str | None = None, git: GitSource | None = None) -> None:
        self.url = url
        self.host = host
        self.git = git

    def __repr__(self) -> str:
        return f"Candidate({self.url!r})"


def manifest_candidates(url: str, settings: Settings) -> list[Candidate]:
    """The manifest URLs to try for a pasted plugin URL, in order (gateway.md's rules)."""
    url = url.strip()
    found = _code_host(url, settings)
    if found is not None:
        host, segments = found
        owner, repo = segments[0], segments[1]
        if repo.endswith(".git"):
            repo = repo[:-4]
        rest = segments[2:]
        if len(rest) >= 2 and rest[0] == "blob":
            ref, file = rest[1], "/".join(rest[2:])
            directory = "/".join(rest[2:-1])
            git = GitSource(repo=Text(f"{owner}/{repo}"), ref=Text(ref), path=Text("/" + directory))
            return [Candidate(_raw_url(host, owner, repo, ref, file, settings), host, git)]
        if len(rest) >= 2 and rest[0] == "tree":
            refs, path = [rest[1]], "/".join(rest[2:])
        else:
            refs, path = (["main", "master"] if host == "github" else ["master", "main"]), ""
        out = []
        for ref in refs:
            git = GitSource(repo=Text(f"{owner}/{repo}"), ref=Text(ref), path=Text("/" + path))
            for name in MANIFEST_NAMES:
                out.append(Candidate(_raw_url(host, owner, repo, ref, f"{path}/{name}", settings), host, git))
        return out
    path = urlsplit(url).path
    if path.endswith((".yml", ".yaml")):
        return [Candidate(url)]
    base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return [Candidate(f"{base}/{name}") for name in MANIFEST_NAMES]


def substitute_platform(url: str) -> str:
    """``${os}`` → linux/darwin/windows, ``${arch}`` → amd64/arm64 (the host's own)."""
    system = {"linux": "linux", "darwin": "darwin", "windows": "windows"}.get(platform.system().lower(), platform.system().lower())
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return url.replace("${os}", system).replace("${arch}", arch)


def git_clone_url(host: str, repo: str, settings: Settings) -> str:
    """``BASE/OWNER/REPO.git`` on the configured code host."""
    base = settings.github_base_url if host == "github" else settings.gitee_base_url
    return f"{_strip(base)}/{repo.strip('/')}.git"


# -- fetching ------------------------------------------------------------------------------


class NotFound(SourceError):
    """The server answered 404 (the next candidate may exist)."""


class Fetcher:
    """HTTP GETs bounded in time, size and redirects; every URL (and redirect target) checked first."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.settings.fetch_timeout)
        return httpx.AsyncClient(follow_redirects=False, timeout=timeout, transport=self._transport,
                                 headers={"User-Agent": "tgo-host"})

    async def _stream(self, url: str, limit: int, sink: Callable[[bytes], None]) -> str:
        """GET ``url`` into ``sink`` chunk by chunk; returns the final URL after redirects."""
        settings = self.settings
        current = url
        async with self._client() as client:
            for _ in range(settings.max_redirects + 1):
                check_source(current, settings)
                try:
                    async with client.stream("GET", current) as response:
                        if response.is_redirect:
                            location = response.headers.get("location", "")
                            if not location:
                                raise SourceError(f"{current}: redirect without a Location header")
                            current = urljoin(current, location)
                            continue
                        if response.status_code == 404:
                            raise NotFound(f"{current}: not found (404)")
                        if response.status_code != 200:
                            raise SourceError(f"{current}: HTTP {response.status_code}")
                        declared = response.headers.get("content-length")
                        if declared and declared.isdigit() and int(declared) > limit:
                            raise SourceError(f"{current}: {declared} bytes exceeds the limit of {limit} bytes")
                        size = 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > limit:
                                raise SourceError(f"{current}: larger than the limit of {limit} bytes")
                            sink(chunk)
                        return current
                except httpx.TimeoutException:
                    raise SourceError(f"{current}: timed out after {settings.fetch_timeout:g} s") from None
                except httpx.HTTPError as exc:
                    raise SourceError(f"{current}: {type(exc).__name__}: {exc}") from None
        raise SourceError(f"{url}: more than {settings.max_redirects} redirects")

    async def get_bytes(self, url: str, limit: int) -> tuple[str, bytes]:
        """The body of ``url`` (at most ``limit`` bytes) and the final URL."""
        chunks: list[bytes] = []
        final = await self._stream(url, limit, chunks.append)
        return final, b"".join(chunks)

    async def download(self, url: str, target: str, limit: int) -> tuple[str, str]:
        """Save ``url`` as ``target``; returns ``(final URL, sha256 hex)``. Blocking writes are small chunks."""
        digest = hashlib.sha256()
        with open(target, "wb") as fh:
            def sink(chunk: bytes) -> None:
                digest.update(chunk)
                fh.write(chunk)

            final = await self._stream(url, limit, sink)
        return final, digest.hexdigest()


# -- fetch-info ------------------------------------------------------------------------------


def parse_manifest(text: bytes, url: str) -> dict[str, Any]:
    """A manifest's YAML as a mapping; :class:`SourceError` naming ``url`` otherwise."""
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceError(f"{url}: manifest is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise SourceError(f"{url}: manifest is not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{url}: manifest is not a YAML mapping")
    return data


async def fetch_info(url: str, settings: Settings, fetcher: Fetcher | None = None) -> PluginConfig:
    """Resolve a plugin URL to its manifest (``POST /plugins/fetch-info``); raises :class:`SourceError`."""
    if not url or not url.strip():
        raise SourceError("url is empty")
    fetcher = fetcher or Fetcher(settings)
    candidates = manifest_candidates(url, settings)
    misses = []
    for candidate in candidates:
        try:
            final, body = await fetcher.get_bytes(candidate.url, settings.max_manifest_bytes)
        except NotFound as exc:
            misses.append(str(exc))
            continue
        data = parse_manifest(body, final)
        source = data.get("source")
        if not source and candidate.git is not None:
            data = {**data, "source": {candidate.host: {"repo": candidate.git.repo, "ref": candidate.git.ref,
                                                        "path": candidate.git.path}}}
        binary = (data.get("source") or {}).get("binary") if isinstance(data.get("source"), dict) else None
        if isinstance(binary, dict) and isinstance(binary.get("url"), str) and "://" not in binary["url"]:
            data["source"] = {**data["source"], "binary": {**binary, "url": urljoin(final, binary["url"])}}
        data["source_url"] = url.strip()
        try:
            return plugin_config(data)
        except ConfigError as exc:
            raise SourceError(f"{final}: {exc}") from None
    raise SourceError(f"no plugin.yml found for {url}: " + "; ".join(misses))


