"""A throw-away PostgreSQL cluster (Debian's server binaries) for the PostgreSQL store tests.

``initdb`` runs as the ``postgres`` user into a fresh directory under /tmp;
the server listens on 127.0.0.1 at a free port and on a Unix socket in that
directory; :meth:`PgCluster.stop` stops it (``pg_ctl stop -m immediate``,
then its postmaster pid is killed if still there) and removes everything.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time

import pytest
from support.net import free_port
from support.paths import short_tempdir


BIN_GLOB = "/usr/lib/postgresql/*/bin"


def pg_bin() -> str | None:
    candidates = sorted(glob.glob(BIN_GLOB), key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    return candidates[-1] if candidates and os.path.exists(os.path.join(candidates[-1], "initdb")) else None


class PgCluster:
    def __init__(self) -> None:
        bin_dir = pg_bin()
        if bin_dir is None or os.geteuid() != 0:
            if os.environ.get("CI"):
                raise AssertionError("PostgreSQL server binaries (apt package postgresql) and root are required")
            pytest.skip("needs Debian's postgresql package and root (to run initdb as postgres)")
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            if os.environ.get("CI"):
                raise AssertionError("the postgres user is missing (Debian's postgresql package creates it)")
            pytest.skip("no postgres user")
        self.bin = bin_dir
        self.dir = short_tempdir("pg")
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self._as_postgres([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--no-sync"], timeout=120)
        self.start()
        self.psql("CREATE DATABASE tgo")

    def _as_postgres(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        out = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                             timeout=timeout, cwd=self.dir)
        assert out.returncode == 0, f"{argv[0]} failed: {out.stdout}{out.stderr}"
        return out

    def url(self, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres:not-checked@127.0.0.1:{self.port}/tgo"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres([os.path.join(self.bin, "pg_ctl"), "start", "-w", "-t", "60", "-D", self.data,
                           "-l", os.path.join(self.dir, "log"), "-o", opts], timeout=90)

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, "pg_ctl"), "stop", "-m",
                        "immediate", "-w", "-D", self.data], capture_output=True, timeout=60)
        pid_file = os.path.join(self.data, "postmaster.pid")
        if os.path.exists(pid_file):
            with open(pid_file) as fh:
                pid = int(fh.readline().strip() or 0)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.5)

    def psql(self, sql: str) -> str:
        out = self._as_postgres([os.path.join(self.bin, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                                 "-h", self.dir, "-p", str(self.port), "-d",
                                 "postgres" if "CREATE DATABASE" in sql else "tgo", "-c", sql])
        return out.stdout.strip()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def pg_cluster():
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()
