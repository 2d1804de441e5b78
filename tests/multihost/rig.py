"""The multi-host rig: Linux network namespaces as hosts, joined by one bridge, on this machine.

Hosts (each a namespace ``srmh-<name>`` with its own address on ``10.231.0.0/24``, its own
loopback and its own processes):

========== ============ ===================================================================
host       address      runs
========== ============ ===================================================================
(operator) 10.231.0.1   the bridge's own address: this driver (deploys, fills deals, reads)
chain      10.231.0.10  anvil
db         10.231.0.11  its own PostgreSQL cluster (``initdb`` in the rig folder), TLS only
core       10.231.0.12  store, SMS, market, scheduler (TLS)
worker-a   10.231.0.21  one worker (its status API with TLS), its enclaves and sandboxes
worker-b   10.231.0.22  the same
========== ============ ===================================================================

No namespace has a route out of ``10.231.0.0/24`` and nothing forwards: traffic stays on the
bridge and the hosts' loopbacks. The rig's folder (``/tmp/sealrun-multihost``) holds the CA,
the certificates, the PostgreSQL cluster, the services' data and logs, and ``rig.json`` (the
processes started, the namespaces and links made), which :func:`down` reads to remove
everything; :func:`down` also removes whatever carries the rig's names without a record (a
run killed half-way).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sealrun.testing.tls import TestCa

PREFIX = "srmh"
BRIDGE = "srmh0"
SUBNET = "10.231.0"
OPERATOR = f"{SUBNET}.1"
HOSTS = {"chain": 10, "db": 11, "core": 12, "worker-a": 21, "worker-b": 22}
ROOT = Path("/tmp/sealrun-multihost")
RIG_FILE = "rig.json"
PORTS = {
    "store": 8701,
    "sms": 8702,
    "scheduler": 8703,
    "market": 8704,
    "worker": 8705,
    "chain": 8545,
    "db": 5432,
}


def address(host: str) -> str:
    """The host's address on the bridge."""
    return f"{SUBNET}.{HOSTS[host]}"


def namespace(host: str) -> str:
    """The host's network namespace."""
    return f"{PREFIX}-{host}"


def _veth(host: str) -> tuple[str, str]:
    """(bridge side, host side) names of the host's link (15 characters at most)."""
    return f"{PREFIX}{HOSTS[host]}", f"{PREFIX}{HOSTS[host]}p"


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a short command (``ip``, ``psql``...) and return it; raise with its stderr on failure."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def netns_available() -> str | None:
    """Why the rig cannot run here (``None``: it can): root, ``ip netns``, PostgreSQL, anvil."""
    if os.geteuid() != 0:
        return "the multi-host rig needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"{PREFIX}-probe"
    made = run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return f"`ip netns add` is refused here: {made.stderr.strip()}"
    run(["ip", "netns", "del", probe], check=False)
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if shutil.which("runuser") is None:
        return "no `runuser` (PostgreSQL refuses to run as root)"
    return None


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``postgres``."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


@dataclass
class Proc:
    """One process the rig started in a host."""

    name: str
    host: str
    pid: int
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    log: str


@dataclass
class Rig:
    """A running rig; :meth:`save` writes ``rig.json`` after every change."""

    root: Path
    ca: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def save(self) -> None:
        data = {
            "root": str(self.root),
            "ca": str(self.ca),
            "procs": {n: p.__dict__ for n, p in self.procs.items()},
            "extra": self.extra,
        }
        partial = self.root / f".{RIG_FILE}.part"
        partial.write_text(json.dumps(data, indent=1))
        partial.replace(self.root / RIG_FILE)

    @classmethod
    def load(cls, root: Path = ROOT) -> Rig:
        data = json.loads((root / RIG_FILE).read_text())
        rig = cls(root=Path(data["root"]), ca=Path(data["ca"]), extra=dict(data["extra"]))
        rig.procs = {n: Proc(**p) for n, p in data["procs"].items()}
        return rig

    # -- processes ---------------------------------------------------------------------------

    def spawn(
        self, name: str, host: str, argv: Sequence[str], env: Mapping[str, str], *, user: str | None = None
    ) -> Proc:
        """Start ``argv`` in ``host``'s namespace, in its own process group (log: ``logs/<name>.log``)."""
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        command = ["ip", "netns", "exec", namespace(host)]
        if user is not None:
            command += ["runuser", "-u", user, "--"]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*command, *argv],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.root,
            )
        proc = Proc(name=name, host=host, pid=process.pid, argv=list(argv), env=dict(env), log=str(log))
        self.procs[name] = proc
        self.save()
        return proc

    def restart(self, name: str, *, user: str | None = None) -> Proc:
        """Start ``name`` again with the same command and environment (after :meth:`kill`)."""
        old = self.procs[name]
        return self.spawn(name, old.host, old.argv, old.env, user=user)

    def kill(self, name: str, sig: int = signal.SIGKILL, *, timeout: float = 30) -> None:
        """Send ``sig`` to the process group of ``name`` and wait (bounded) until it is gone."""
        proc = self.procs[name]
        _signal_group(proc.pid, sig)
        _wait_gone(proc.pid, timeout)
        if _alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
            _wait_gone(proc.pid, 10)

    def kill_host(self, host: str) -> list[int]:
        """``kill -9`` every process of ``host`` (a host that loses power); returns their pids."""
        pids = [int(p) for p in run(["ip", "netns", "pids", namespace(host)], check=False).stdout.split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs.values():
            if proc.host == host:
                _wait_gone(proc.pid, 10)
        return pids


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` until it holds; raise naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


# -- the network ----------------------------------------------------------------------------


def make_network() -> None:
    """The bridge (with the operator's address) and one namespace with one link per host."""
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{OPERATOR}/24", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    for host in HOSTS:
        ns, (outer, inner) = namespace(host), _veth(host)
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
        run(["ip", "link", "set", inner, "netns", ns])
        run(["ip", "link", "set", outer, "master", BRIDGE, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{address(host)}/24", "dev", inner])
        run(["ip", "-n", ns, "link", "set", inner, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])


def set_link(host: str, *, up: bool) -> None:
    """Cut (or restore) ``host``'s only link: its cable pulled out of the bridge."""
    run(["ip", "link", "set", _veth(host)[0], "up" if up else "down"])


def remove_network() -> list[str]:
    """Delete every namespace and link of the rig's names; returns what was removed."""
    removed = []
    for ns in json.loads(run(["ip", "-j", "netns", "list"], check=False).stdout or "[]"):
        name = ns.get("name", "")
        if name.startswith(f"{PREFIX}-"):
            for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            run(["ip", "netns", "del", name], check=False)
            removed.append(name)
    links = json.loads(run(["ip", "-j", "link", "show"], check=False).stdout or "[]")
    for link in links:
        name = link.get("ifname", "")
        if name.startswith(PREFIX):
            run(["ip", "link", "del", name], check=False)
            removed.append(name)
    return removed


# -- certificates ---------------------------------------------------------------------------


def make_certificates(root: Path) -> TestCa:
    """The rig's CA and one server certificate per host that serves (its address as the name)."""
    ca = TestCa(root / "tls", name="sealrun multihost CA")
    for host in ("core", "worker-a", "worker-b"):
        ca.issue(host, hosts=(address(host),))
    return ca


# -- PostgreSQL on the db host --------------------------------------------------------------

DATABASES = ("market", "scheduler", "sms")


def init_postgres(rig: Rig, ca: TestCa) -> None:
    """``initdb`` a cluster owned by ``postgres`` in the rig folder, TLS only from the bridge."""
    binaries = postgres_bin()
    assert binaries is not None
    folder = rig.root / "db"
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(parents=True)
    issued = ca.issue("db", hosts=(address("db"),))
    tls = folder / "tls"
    tls.mkdir()
    for source, target in ((issued.cert_file, "server.crt"), (issued.key_file, "server.key")):
        shutil.copy(source, tls / target)
    (tls / "server.key").chmod(0o600)
    shutil.chown(folder, "postgres")
    for path in (sockets, tls, tls / "server.crt", tls / "server.key"):
        shutil.chown(path, "postgres", "postgres")
    run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        timeout=120,
    )
    conf = {
        "listen_addresses": f"'{address('db')}'",
        "port": str(PORTS["db"]),
        "unix_socket_directories": f"'{sockets}'",
        "ssl": "on",
        "ssl_cert_file": f"'{tls / 'server.crt'}'",
        "ssl_key_file": f"'{tls / 'server.key'}'",
        "max_connections": "200",
        "shared_buffers": "64MB",
        # A rig, not a production server: its durability is not what is measured.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data / "postgresql.conf").open("a") as out:
        out.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
    (data / "pg_hba.conf").write_text(
        f"local all all trust\nhostssl all all {SUBNET}.0/24 trust\nhostnossl all all {SUBNET}.0/24 reject\n"
    )
    rig.extra["pg_data"] = str(data)
    rig.extra["pg_sockets"] = str(sockets)
    start_postgres(rig)
    for name in DATABASES:
        run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(binaries / "psql"),
                "-h",
                str(sockets),
                "-p",
                str(PORTS["db"]),
                "-U",
                "postgres",
                "-qc",
                f"CREATE DATABASE {name}",
            ]
        )


def start_postgres(rig: Rig) -> None:
    """Start (or start again) the db host's postmaster and wait until it takes connections."""
    binaries = postgres_bin()
    assert binaries is not None
    argv = [str(binaries / "postgres"), "-D", rig.extra["pg_data"]]
    if "postgres" in rig.procs:
        rig.restart("postgres", user="postgres")
    else:
        rig.spawn("postgres", "db", argv, {"PATH": os.environ.get("PATH", "")}, user="postgres")
    ready = [str(binaries / "pg_isready"), "-h", rig.extra["pg_sockets"], "-p", str(PORTS["db"]), "-q"]
    wait_until(
        lambda: run(ready, check=False).returncode == 0, timeout=60, what="PostgreSQL to accept connections"
    )


def restart_postgres(rig: Rig) -> float:
    """A fast shutdown (SIGINT: connections cut, in-flight transactions rolled back), then a
    start; returns the seconds it was down."""
    began = time.monotonic()
    rig.kill("postgres", signal.SIGINT, timeout=60)
    start_postgres(rig)
    return time.monotonic() - began


def database_url(rig: Rig, name: str) -> str:
    """A psycopg URL of the db host's database ``name``, TLS verified against the rig's CA."""
    return (
        f"postgresql+psycopg://postgres@{address('db')}:{PORTS['db']}/{name}"
        f"?sslmode=verify-full&sslrootcert={rig.ca}"
    )


# -- teardown -------------------------------------------------------------------------------


def down(root: Path = ROOT) -> dict[str, object]:
    """Stop every process of the rig, remove its namespaces, links and folders. Safe to repeat."""
    stopped: list[str] = []
    folders = [root]
    if (root / RIG_FILE).is_file():
        rig = Rig.load(root)
        if "postgres" in rig.procs:
            rig.kill("postgres", signal.SIGINT, timeout=20)
        for name in list(rig.procs):
            rig.kill(name, signal.SIGKILL, timeout=10)
            stopped.append(name)
        if "world" in rig.extra:
            folders.append(Path(rig.extra["world"]))
    removed = remove_network()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return {"stopped": stopped, "removed": removed, "folders": [str(f) for f in folders]}
