"""A real `vigil serve` for the client's tests: a fresh SQLite database in a temporary
directory, a free port the daemon picks and reports, and tokens of each role made with the CLI
as an operator would. `$VIGIL_BIN` names the binary (scripts/python-client-test.sh sets it)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from vigil_client import Client

SERVING = "vigil: serving on "
START_TIMEOUT_S = 60


def _binary() -> str:
    binary = os.environ.get("VIGIL_BIN") or shutil.which("vigil")
    if not binary:
        pytest.fail("set VIGIL_BIN to the vigil binary (scripts/python-client-test.sh does)")
    return binary


class Daemon:
    def __init__(self, directory: Path) -> None:
        self.binary = _binary()
        self.directory = directory
        self.env = dict(os.environ)
        self.env.pop("VIGIL_CONFIG", None)
        self.env.pop("VIGIL_TOKEN", None)
        self.env.pop("VIGIL_URL", None)
        self.env["VIGIL_DATABASE_URL"] = f"sqlite://{directory / 'vigil.db'}"
        self.env["VIGIL_CACHE_DIR"] = str(directory / "cache")
        self.admin = self.token("admin")
        self.log = open(directory / "daemon.log", "w")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--set", "listen=127.0.0.1:0"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        found: "queue.Queue[str]" = queue.Queue()

        def copy_stderr() -> None:
            # Reads to the end so that the daemon never blocks on a full pipe.
            for line in self.process.stderr:
                self.log.write(line)
                self.log.flush()
                if line.startswith(SERVING):
                    found.put(line[len(SERVING) :].strip())

        threading.Thread(target=copy_stderr, daemon=True).start()
        try:
            self.url = found.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            pytest.fail("the daemon did not start: " + (directory / "daemon.log").read_text())

    def token(self, role: str) -> str:
        run = subprocess.run(
            [self.binary, "token", "create", "--role", role, "--create-database"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip().splitlines()[-1]

    def client(self, role: str = "admin", **options) -> Client:
        token = self.admin if role == "admin" else self.token(role)
        return Client(self.url, token=token, **options)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    daemon = Daemon(tmp_path_factory.mktemp("daemon"))
    yield daemon
    daemon.stop()


@pytest.fixture
def vigil(daemon) -> Client:
    return daemon.client()
