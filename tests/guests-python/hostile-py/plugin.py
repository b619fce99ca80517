"""A drift test that misbehaves on purpose, chosen by its configuration, so the tests can
check what the sandbox does to a hostile Python plugin: loops and memory are stopped, and
sockets, files and the environment are not there. Modes that probe the sandbox report what
they found as an `invalid-input` error, for the test to read."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from vigil_plugin import DriftResult, DriftTest, InvalidInput, log

# Done while the component is built: a module that cannot be imported then is not there later.
try:
    import encodings.idna  # noqa: F401 - host names are encoded with it
    import socket
except ImportError as error:
    socket = None
    SOCKET = f"{type(error).__name__}: {error}"


@dataclass
class Config:
    mode: str = "behave"


def _probe(what, attempt):
    try:
        return f"{what}: {attempt()!r}"
    except BaseException as error:  # noqa: BLE001 - the probe reports whatever happened
        return f"{what}: {type(error).__name__}: {error}"


class Hostile(DriftTest):
    name = "hostile-py"
    version = "0.1.0"
    description = "Misbehaves on purpose (sandbox tests)"
    column_kinds = ("numeric", "categorical")
    score = "p-value"
    Config = Config

    def __init__(self, reference, config: Config) -> None:
        self.mode = config.mode

    def evaluate(self, current) -> DriftResult:
        mode = self.mode
        if mode == "loop":
            n = 0
            while True:
                n += 1
        if mode == "memory":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "raise":
            return {}["no such key"]
        if mode == "print":
            for i in range(20_000):
                print(f"line {i} of a flood of stdout")
            log.info("printed")
        if mode == "socket":
            if socket is None:
                raise InvalidInput(f"import: {SOCKET}")
            raise InvalidInput(
                "; ".join(
                    [
                        _probe("lookup", lambda: socket.getaddrinfo("example.com", 80)),
                        _probe("connect", lambda: socket.socket().connect(("127.0.0.1", 9))),
                        _probe("bind", lambda: socket.socket().bind(("127.0.0.1", 0))),
                        _probe(
                            "udp",
                            lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
                                b"x", ("127.0.0.1", 9)
                            ),
                        ),
                    ]
                )
            )
        if mode == "files":
            raise InvalidInput(
                "; ".join(
                    [
                        _probe("open", lambda: open("/etc/passwd").read(10)),
                        _probe("listdir", lambda: os.listdir("/")),
                        _probe("write", lambda: open("/tmp/vigil-escape", "w").write("x")),
                        _probe("cwd", os.getcwd),
                    ]
                )
            )
        if mode == "environment":
            raise InvalidInput(
                f"environ: {dict(os.environ)!r}; argv: {sys.argv!r}; "
                + _probe("HOME", lambda: os.environ["HOME"])
            )
        return DriftResult.from_p_value(float(len(current)), 1.0, 0.05)
