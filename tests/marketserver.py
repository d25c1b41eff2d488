"""A stand-in for GitHub, Gitee and release servers on 127.0.0.1: static files, redirects and ``git http-backend``.

``MarketServer(root)`` serves ``root`` over HTTP in a thread:

* ``/files/...``       static files under ``root/files`` (raw manifests, release archives);
* ``/<any>/O/R.git/...`` the bare repositories under ``root/git`` through ``git http-backend`` (smart HTTP,
  so shallow clones work), whatever the first segment (``/gh``, ``/gitee``);
* ``/gitee/...``       static files under ``root/gitee`` (Gitee's raw URLs share its base);
* ``redirects[path] = location`` answers ``path`` with a 302 to ``location``.

Every request path is recorded in ``requests``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIT_BACKEND = "/usr/lib/git-core/git-http-backend"


class MarketServer:
    def __init__(self, root: str) -> None:
        self.root = root
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        os.makedirs(os.path.join(root, "files"), exist_ok=True)
        os.makedirs(os.path.join(root, "git"), exist_ok=True)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                path, _, query = self.path.partition("?")
                server.requests.append(path)
                if path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[path])
                    self.end_headers()
                    return
                if ".git/" in path:
                    return self._git("/" + path.split("/", 2)[2], query)
                if path.startswith(("/files/", "/gitee/")) and ".." not in path:
                    full = os.path.join(server.root, path.lstrip("/"))
                    if os.path.isfile(full):
                        with open(full, "rb") as fh:
                            data = fh.read()
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _git(self, path_info: str, query: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = dict(os.environ, GIT_PROJECT_ROOT=os.path.join(server.root, "git"), GIT_HTTP_EXPORT_ALL="1",
                           PATH_INFO=path_info, QUERY_STRING=query, REQUEST_METHOD=self.command,
                           CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(length),
                           REMOTE_ADDR="127.0.0.1", GIT_PROTOCOL=self.headers.get("Git-Protocol", ""))
                out = subprocess.run([GIT_BACKEND], input=body, capture_output=True, env=env, timeout=60).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "MarketServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    # -- content -----------------------------------------------------------------

    def file(self, relpath: str, data: bytes | str) -> str:
        """Serve ``data`` at ``/files/relpath``; returns its URL."""
        full = os.path.join(self.root, "files", relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        return f"{self.base}/files/{relpath}"

    def git_repo(self, owner_repo: str, tree: str, *, branch: str = "main", tag: str | None = None) -> None:
        """(Re)publish directory ``tree`` as the bare repository ``OWNER/REPO.git`` (one new commit on ``branch``),
        and its files as raw files under ``/files/raw/OWNER/REPO/BRANCH/`` (what raw.githubusercontent.com serves)."""
        raw = os.path.join(self.root, "files", "raw", owner_repo, branch)
        shutil.rmtree(raw, ignore_errors=True)
        shutil.copytree(tree, raw)
        bare = os.path.join(self.root, "git", owner_repo + ".git")
        work = os.path.join(self.root, "work", owner_repo)
        if not os.path.isdir(bare):
            os.makedirs(bare)
            run(["git", "init", "-q", "--bare", "-b", branch, bare])
            run(["git", "config", "http.receivepack", "false"], cwd=bare)
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(tree, work)
        run(["git", "init", "-q", "-b", branch], cwd=work)
        run(["git", "add", "-A"], cwd=work)
        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "publish"], cwd=work)
        run(["git", "push", "-q", "--force", bare, f"{branch}:{branch}"], cwd=work)
        if tag:
            run(["git", "tag", "-f", tag], cwd=work)
            run(["git", "push", "-q", "--force", bare, f"refs/tags/{tag}"], cwd=work)


def run(argv: list[str], cwd: str | None = None) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)
