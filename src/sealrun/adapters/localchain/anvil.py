"""Start and stop anvil (foundry's local node, from npm ``@foundry-rs/anvil``).

:func:`find_anvil` looks, in order, at ``$SEALRUN_ANVIL`` (passed in by the caller), the
repository's ``tools/node/node_modules/.bin/anvil``, ``PATH``, and a cache folder; with
``install=True`` it runs ``npm install @foundry-rs/anvil`` into the cache folder.
:class:`AnvilNode` starts it on a free loopback port, waits until it answers
``eth_chainId``, and stops it (SIGTERM, then SIGKILL) on :meth:`AnvilNode.stop` or exit
of a ``with`` block.

Error codes (:class:`~sealrun.errors.ChainError`): ``ANVIL_NOT_FOUND``,
``ANVIL_INSTALL_FAILED``, ``ANVIL_START_FAILED``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from sealrun.errors import ChainError

__all__ = ["ANVIL_CHAIN_ID", "AnvilNode", "find_anvil", "free_port"]

ANVIL_CHAIN_ID = 31337
_REPO_BIN = Path(__file__).resolve().parents[4] / "tools" / "node" / "node_modules" / ".bin" / "anvil"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_anvil(*, explicit: str | None = None, cache_dir: Path | None = None, install: bool = False) -> Path:
    """Return the anvil executable.

    Args:
        explicit: a path given by the user (e.g. ``$SEALRUN_ANVIL``); used as-is if set.
        cache_dir: where ``npm install`` puts anvil when ``install`` is true.
        install: install ``@foundry-rs/anvil`` with npm when it is nowhere to be found.

    Raises:
        ChainError: ``ANVIL_NOT_FOUND`` or ``ANVIL_INSTALL_FAILED``.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ChainError(f"anvil not found at {path}", code="ANVIL_NOT_FOUND")
        return path
    candidates = [_REPO_BIN]
    on_path = shutil.which("anvil")
    if on_path:
        candidates.append(Path(on_path))
    if cache_dir is not None:
        candidates.append(cache_dir / "node_modules" / ".bin" / "anvil")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not install or cache_dir is None:
        raise ChainError(
            "anvil is not installed: run scripts/setup.sh, or `sealrun chain anvil --install`",
            code="ANVIL_NOT_FOUND",
        )
    npm = shutil.which("npm")
    if npm is None:
        raise ChainError("cannot install anvil: npm is not on PATH", code="ANVIL_INSTALL_FAILED")
    cache_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir), "@foundry-rs/anvil"],
        capture_output=True,
        text=True,
        check=False,
    )
    binary = cache_dir / "node_modules" / ".bin" / "anvil"
    if done.returncode != 0 or not binary.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ChainError(f"npm could not install @foundry-rs/anvil: {last}", code="ANVIL_INSTALL_FAILED")
    return binary


class AnvilNode:
    """One anvil process on a loopback port.

    Args:
        binary: the anvil executable (see :func:`find_anvil`).
        port: the port (default: a free one).
        block_time: seconds per block; ``None`` mines each transaction at once.
    """

    def __init__(self, binary: Path, *, port: int | None = None, block_time: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.block_time = block_time
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> AnvilNode:
        """Start anvil and wait until it answers.

        Raises:
            ChainError: ``ANVIL_START_FAILED`` if it exits or does not answer within ``timeout``.
        """
        argv = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent"]
        if self.block_time is not None:
            argv += ["--block-time", str(self.block_time)]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise ChainError(
                    f"anvil exited with status {self._process.returncode}: {stderr.strip()[-300:]}",
                    code="ANVIL_START_FAILED",
                )
            try:
                answer = httpx.post(
                    self.url,
                    json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                    timeout=1,
                )
                if answer.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ChainError(
            f"anvil did not answer on {self.url} within {timeout:.0f} s", code="ANVIL_START_FAILED"
        )

    def stop(self) -> None:
        """Stop anvil (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> AnvilNode:
        return self.start() if self._process is None else self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
