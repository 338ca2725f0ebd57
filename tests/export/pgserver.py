"""A throw-away PostgreSQL server in a folder: for the export tests and benchmarks/bench_export.py.

``initdb`` + ``pg_ctl`` from Debian's ``postgresql`` (``make postgres`` installs it), run as
``nobody`` when this process is root (PostgreSQL refuses to run as root), listening only on
a Unix socket in the folder (no TCP port: no clash with a system cluster or another
session). Password authentication (SCRAM) is on; the client gets the password the way
PostgreSQL users keep it, from the ``PGPASSFILE`` this module writes.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ServerError(RuntimeError):
    """The server's programs are missing or did not start."""


@dataclass(frozen=True)
class PgServer:
    """A running server: its URL (no password), the password it checks, its passfile."""

    url: str
    password: str
    passfile: Path
    folder: Path


def pg_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (the newest Debian version first)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ServerError(
        "PostgreSQL's initdb and pg_ctl are missing: run `make postgres` "
        "(scripts/ensure-postgres.sh installs Debian's postgresql)"
    )


@contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a server in a new temporary folder; stop it and remove the folder at the end."""
    bin_dir = pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="churnlab-pg-"))  # short: a socket path is < 108 B
    owner: dict[str, Any] = {}
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        owner = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    password = secrets.token_urlsafe(18)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    data = folder / "data"
    options = (
        f"-c listen_addresses='' -c unix_socket_directories='{folder}' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )

    def pg(*args: str) -> None:
        done = subprocess.run(
            args, cwd=folder, capture_output=True, text=True, check=False, **owner
        )
        if done.returncode:
            log = folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerError(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}{tail}")

    try:
        pg(
            str(bin_dir / "initdb"), "-D", str(data), "-U", "churnlab", "-E", "UTF8",
            "--no-locale", "--no-sync", "--auth=scram-sha-256", f"--pwfile={pwfile}",
        )  # fmt: skip
        pwfile.unlink()
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
           "-o", options, "start")  # fmt: skip
        passfile = folder / "pgpass"  # the client's side, read by this process
        passfile.write_text(f"*:*:*:churnlab:{password}\n", encoding="utf-8")
        passfile.chmod(0o600)
        url = f"postgresql://churnlab@/postgres?host={folder}"
        yield PgServer(url=url, password=password, passfile=passfile, folder=folder)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                cwd=folder, capture_output=True, check=False, **owner,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
