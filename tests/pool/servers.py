"""Start sealrun services as real servers (``python -m ...``) on loopback for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """One service process; ``kill()`` is ``kill -9``, ``stop()`` a polite SIGTERM."""

    def __init__(self, module: str, env: Mapping[str, str], *, health_url: str | None, log: Path) -> None:
        self.module = module
        self.env = dict(env)
        self.health_url = health_url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 180.0, wait: bool = True) -> ServiceProcess:
        """Start the process and (unless ``wait`` is false) wait until its health URL answers 200."""
        environment = {**os.environ, **self.env}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        if wait:
            self.wait_healthy(timeout=timeout)
        return self

    def wait_healthy(self, *, timeout: float = 180.0) -> None:
        """Wait until the health URL answers 200 (raises with the log's tail otherwise)."""
        assert self.process is not None
        if self.health_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.health_url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.module} did not become healthy:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """``kill -9`` the process (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate politely, then forcefully."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running(
    module: str, env: Mapping[str, str], *, health_url: str | None, log: Path
) -> Iterator[ServiceProcess]:
    """Run a service for the duration of a ``with`` block."""
    service = ServiceProcess(module, env, health_url=health_url, log=log).start()
    try:
        yield service
    finally:
        service.stop()
