"""The devnet's state file: where everything a running devnet started lives.

``sealrun devnet up`` writes ``<state dir>/state.json`` (default state dir:
``<project>/.sealrun/devnet``) once the chain, the contracts and every service are up;
``down`` renames it ``stopped.json`` (:data:`STOPPED_FILE`), which the next ``up`` resumes
from. While the devnet runs, its supervisor is the only writer (restarted pids and counts).
Every CLI command finds it through :func:`locate_state` (``$SEALRUN_DEVNET``
naming a state dir, else the project's default one), so nobody copies addresses by hand: the
CLI's session turns it into a chain profile named ``devnet`` (see ``sealrun.cli.session``).

The file is written atomically (temp file + rename) and carries a format version. Error
codes (:class:`~sealrun.errors.ConfigError`): ``DEVNET_STATE_INVALID``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sealrun.adapters.profiles import ChainProfile
from sealrun.errors import ConfigError

if TYPE_CHECKING:
    from sealrun.core.jsontypes import JsonObject

__all__ = [
    "DEFAULT_STATE_DIR",
    "STATE_ENV",
    "STATE_FILE",
    "STOPPED_FILE",
    "DevnetState",
    "ProcessRecord",
    "locate_state",
    "write_secret",
]

DEFAULT_STATE_DIR = Path(".sealrun") / "devnet"
STATE_FILE = "state.json"
STOPPED_FILE = "stopped.json"
STATE_ENV = "SEALRUN_DEVNET"
_VERSION = 1

ChainKind = Literal["embedded", "anvil"]


def write_secret(path: Path, data: bytes) -> Path:
    """Write a key of the devnet (0600, in a 0700 folder): temp file, then rename."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class ProcessRecord:
    """One process the devnet started, in its own process group.

    Attributes:
        name: ``chain``, ``store``, ``sms``, ``market``, ``scheduler``, ``worker-1``...
        pid: the leader's pid; ``pgid`` equals it (each process starts a new session).
        log: the file its stdout and stderr go to.
        url: its HTTP base URL, if it serves one (health-checked).
        argv, env, cwd: how it was started, so the supervisor can start it again (``env``
            holds settings only: secrets are files).
        restarts: how many times the supervisor restarted it.
        gave_up: the supervisor stopped restarting it (it died too often).
    """

    name: str
    pid: int
    log: str
    url: str | None = None
    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    restarts: int = 0
    gave_up: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        """A record from its state-file form (older files lack the restart fields)."""
        fields = dict(data)
        fields["argv"] = tuple(fields.get("argv", ()))
        fields["env"] = dict(fields.get("env", {}))
        return cls(**fields)

    @property
    def pgid(self) -> int:
        """The process group the devnet signals on ``down``."""
        return self.pid


@dataclass(frozen=True)
class DevnetState:
    """A running devnet: its chain, its contracts, its accounts and its processes."""

    root: Path
    chain: ChainKind
    rpc_url: str
    chain_id: int
    hub: str
    token: str
    registry: str
    deploy_block: int
    workerpool: str | None = None
    pool_owner: str | None = None
    workers: tuple[str, ...] = ()
    services: Mapping[str, str] = field(default_factory=dict)
    processes: tuple[ProcessRecord, ...] = ()
    started_at: float = 0.0

    @property
    def path(self) -> Path:
        """The state file."""
        return self.root / STATE_FILE

    def profile(self) -> ChainProfile:
        """The chain profile ``devnet`` that CLI commands use while this devnet runs."""
        return ChainProfile(
            "devnet",
            self.chain,
            self.rpc_url,
            hub=self.hub,
            token=self.token,
            chain_id=self.chain_id,
            deploy_block=self.deploy_block,
        )

    def to_json(self) -> JsonObject:
        """The state as JSON-ready data (what ``devnet status --json`` shows)."""
        data = asdict(self)
        data["root"] = str(self.root)
        data["workers"] = list(self.workers)
        data["services"] = dict(self.services)
        data["processes"] = [{**asdict(p), "argv": list(p.argv), "env": dict(p.env)} for p in self.processes]
        return {"version": _VERSION, **data}

    def record(self, name: str) -> ProcessRecord | None:
        """The process named ``name``, if the devnet has one."""
        return next((p for p in self.processes if p.name == name), None)

    def save(self) -> None:
        """Write the state file atomically (temp file in the same folder + rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".state.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    @classmethod
    def load(cls, root: Path, *, name: str = STATE_FILE) -> DevnetState:
        """Read ``<root>/state.json`` (or ``name``, e.g. :data:`STOPPED_FILE`).

        Raises:
            ConfigError: ``DEVNET_NOT_RUNNING`` if there is none, ``DEVNET_STATE_INVALID`` if unreadable.
        """
        path = root / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"no devnet state at {path}: run `sealrun devnet up` first", code="DEVNET_NOT_RUNNING"
            ) from None
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"{path} is not a devnet state file: {error}", code="DEVNET_STATE_INVALID"
            ) from error
        try:
            if data.pop("version") != _VERSION:
                raise ValueError("unknown version")
            data.pop("root", None)
            processes = tuple(ProcessRecord.from_json(p) for p in data.pop("processes"))
            return cls(
                root=root,
                workers=tuple(data.pop("workers")),
                services=dict(data.pop("services")),
                processes=processes,
                **data,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(
                f"{path} is not a devnet state file: {error}", code="DEVNET_STATE_INVALID"
            ) from error


def locate_state(project_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """The state dir of the devnet CLI commands should use, if one is running.

    ``$SEALRUN_DEVNET`` (a state dir) wins; else ``<project_dir>/.sealrun/devnet`` if it holds
    a state file. Returns ``None`` when no devnet is up.
    """
    named = environ.get(STATE_ENV)
    if named:
        root = Path(named).expanduser().resolve()
        return root if (root / STATE_FILE).is_file() else None
    root = (project_dir / DEFAULT_STATE_DIR).resolve()
    return root if (root / STATE_FILE).is_file() else None
