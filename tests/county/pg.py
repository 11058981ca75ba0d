"""A private PostgreSQL server for tests: Debian's binaries, a fresh cluster on a free port.

Run as the `postgres` user when the tests run as root (PostgreSQL refuses to run as root), as
the current user otherwise. fsync is off: the tests are about SQL, not about the disk.
"""

from __future__ import annotations

import getpass
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from gateway.localbroker import free_port, wait_port


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found: install Debian's postgresql (make test does)")
    return path


class LocalPostgres:
    """initdb + postgres on 127.0.0.1:free-port; `database()` makes a fresh database and returns its URL."""

    def __init__(self) -> None:
        self.user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vs-pg-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def _as_user(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam(self.user)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [], "env": {"PATH": "/usr/bin:/bin", "HOME": str(self.dir)}}

    def start(self) -> "LocalPostgres":
        run_as = self._as_user()
        data = self.dir / "data"
        subprocess.run([_binary("initdb"), "-D", str(data), "-U", "county", "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, **run_as)  # type: ignore[arg-type]
        log = open(self.dir / "postgres.log", "wb")
        self._proc = subprocess.Popen(
            [_binary("postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=log, stderr=log, **run_as,  # type: ignore[arg-type]
        )
        if not wait_port("127.0.0.1", self.port, 30):
            self.stop()
            raise RuntimeError(f"postgres did not start; see {self.dir / 'postgres.log'}")
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgresql://county@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
