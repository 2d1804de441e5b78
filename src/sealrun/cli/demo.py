"""``sealrun demo``: the whole confidential journey, unattended, on a fresh local devnet.

It makes a throwaway project in ``--workdir`` (a wallet, ``tee/`` folders, a result key),
starts an embedded devnet (chain, contracts, store, SMS, market, scheduler, a worker),
publishes the bundled example app (``examples/render-scene``: a pure-Python ray tracer),
puts a private 3D scene in ``tee/inputs``, pushes it sealed (``tee encryptedpush``), buys one
task from the order book, follows it to COMPLETED, downloads the sealed result (signed by the
requester's wallet) and opens it: the rendered image lands in ``tee/outputs``. Each step
prints its time; ``--json`` prints one object with ``task_id``, ``status``, ``outputs`` (the
decrypted files), ``timings`` (seconds per stage) and ``exit_status``. The ``task`` line
names only the stages the task went through (:func:`sealrun.requester.tasks.steps`). When the task
ends FAILED, the demo prints the failure, the enclave's attested reason (from the sealed logs)
and the logs command, stops the devnet and exits 3 (4 if it timed out), ``--json`` complete.
The devnet is stopped at the end unless ``--keep``.
``--local`` runs the old local seal/open round trip instead (no marketplace).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar

import typer

from sealrun.cli.localdemo import _prepare, local_demo
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.errors import DemoError, UsageError

if TYPE_CHECKING:
    from sealrun.cli.session import Session

__all__ = ["demo"]

T = TypeVar("T")

_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
_WORKDIR = typer.Option(Path("sealrun-demo"), "--workdir", help="Folder for the demo's files (recreated).")
_CHAIN = typer.Option("embedded", "--chain", help="embedded (py-evm) or anvil.")
_SIZE = typer.Option(64, "--size-mib", min=0, max=65536, help="--local only: size of the random sample.")
_PASSWORD_FILE = "wallet-password.txt"  # noqa: S105 (a file name)


class _DemoResult(TypedDict):
    """What ``--json`` prints (the keys the journey reached)."""

    workdir: str
    devnet: str
    task_id: NotRequired[str]
    verify: NotRequired[list[str]]
    status: NotRequired[str]
    task: NotRequired[dict[str, object]]  # describe() and, if it FAILED, explain_failure()
    exit_status: NotRequired[int]
    outputs: NotRequired[list[str]]
    image: NotRequired[str | None]
    timings: NotRequired[dict[str, float]]
    tee: NotRequired[str]


class _Steps:
    """Runs named stages, prints each with its time, keeps the timings."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.timings: dict[str, float] = {}

    def run(self, name: str, action: Callable[[], T], detail: Callable[[T], str]) -> T:
        started = time.perf_counter()
        value = action()
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - started, 3)
        self.out.info(f"[bold]{name:<13}[/bold] {time.perf_counter() - started:7.2f} s  {detail(value)}")
        return value


def _project(workdir: Path) -> tuple[Path, str]:
    """A project in ``workdir``: sealrun.toml and a wallet with a generated password (0600).

    Returns:
        The password file and the wallet's address.
    """
    from sealrun.adapters.keystore import Keystore
    from sealrun.adapters.profiles import default_config

    config = default_config(
        workdir / "sealrun.toml", embedded_url="http://127.0.0.1:8545", anvil_url="http://127.0.0.1:8546"
    )
    config.save()
    password = secrets.token_urlsafe(18)
    password_file = workdir / _PASSWORD_FILE
    password_file.write_text(password, encoding="utf-8")
    password_file.chmod(0o600)
    created = Keystore(config.wallet_dir, scrypt_n=2**12).create(config.wallet, password)
    return password_file, created.address


def _marketplace(out: Output, steps_: _Steps, session: Session, bundle: Path, result: _DemoResult) -> None:
    """The journey on the running devnet, through the SDK: deploy, protect, buy, follow, open."""
    from sealrun.api.ids import task_id_hex
    from sealrun.cli.result import exit_status
    from sealrun.requester import AppDeveloper, DataOwner
    from sealrun.requester.buying import fill, find_orders, sign_request_order
    from sealrun.requester.downloads import explain_failure
    from sealrun.requester.handle import TaskHandle
    from sealrun.requester.layout import TEE_FOLDERS, result_identity
    from sealrun.requester.smssecrets import register_result_key
    from sealrun.requester.tasks import describe, steps

    workdir = session.config.path.parent
    connection = steps_.run("wallet", session.connection, lambda c: f"requester {c.address}")

    def tee_init() -> Path:
        for folder in TEE_FOLDERS:
            (workdir / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle / "scene.json", workdir / "tee" / "inputs" / "scene.json")
        return result_identity(workdir, create=True)[0]

    steps_.run("tee init", tee_init, lambda key: f"tee/inputs/scene.json (private), result key {key}")
    app = steps_.run(
        "app deploy",
        lambda: AppDeveloper(connection).deploy(bundle).address,
        lambda a: f"render-scene at {a}",
    )

    def push() -> Any:
        protected = DataOwner(connection).protect(workdir / "tee" / "inputs", app=app)
        register_result_key(connection)
        return protected

    pushed = steps_.run(
        "encryptedpush", push, lambda p: f"dataset {p.address} ({p.checksum[:18]}…), key in the SMS"
    )
    orders = steps_.run(
        "orderbook",
        lambda: find_orders(connection, app, pushed.address),
        lambda o: f"workerpool {o[2].workerpool} at {o[2].workerpoolprice} per task",
    )
    request = sign_request_order(connection, orders)
    filled = steps_.run(
        "order fill",
        lambda: fill(connection, orders, request),
        lambda f: f"deal 0x{f[0].deal_id.hex()[:16]}…, task 0x{f[1].hex()}, price {f[2]}",
    )
    task = TaskHandle(connection, filled[1], filled[0].deal_id, filled[2])
    result["task_id"] = task_id_hex(task.task_id)

    def follow() -> Any:
        for change in task.events(timeout=600):
            if not change.timed_out:
                out.info(f"  task status: {change.status}")
        return task.last

    followed = steps_.run("task", follow, lambda f: f"{f.status} ({', '.join(steps(f))})")
    task_report: dict[str, object] = {**describe(followed)}
    result.update({"status": followed.status, "task": task_report, "exit_status": 0})
    if followed.status in ("COMPLETED", "FAILED") and not followed.timed_out:
        from sealrun.cli.verify import verify_demo_task

        result["verify"] = steps_.run("verify", lambda: verify_demo_task(session, task.task_id), _verdict)
    if followed.status != "COMPLETED" or followed.timed_out:
        if followed.status == "FAILED":
            task_report.update(explain_failure(connection, followed))  # before the devnet stops
        result["exit_status"] = exit_status(followed)
        return
    steps_.run("download", task.download, lambda p: f"{p} ({p.stat().st_size} bytes, sealed)")
    outputs = steps_.run(
        "decrypt", task.decrypt, lambda files: f"{workdir / 'tee' / 'outputs'} ({len(files)} files)"
    )
    result["outputs"] = [str(p) for p in outputs]
    images = [p for p in outputs if p.suffix == ".png"]
    result["image"] = str(images[0]) if images else None


def _verdict(commands: list[str]) -> str:
    return "receipt verified; " + commands[1]


def _journey(out: Output, workdir: Path, chain: str, keep: bool) -> _DemoResult:
    from sealrun.adapters.profiles import ProjectConfig
    from sealrun.cli.session import Session
    from sealrun.devnet.launch import DevnetOptions, down, up
    from sealrun.devnet.state import DEFAULT_STATE_DIR

    bundle = _EXAMPLES / "render-scene"
    if not (bundle / "sealrun-app.toml").is_file():
        raise DemoError(f"the example app is missing at {bundle}", code="DEMO_EXAMPLE_MISSING")
    steps_ = _Steps(out)
    password_file, address = steps_.run(
        "project", lambda: _project(workdir), lambda p: f"{workdir} (sealrun.toml, wallet {p[1]})"
    )
    config = ProjectConfig.load(workdir / "sealrun.toml")
    state_dir = workdir / DEFAULT_STATE_DIR
    funded = [address]
    state = steps_.run(
        "devnet up",
        lambda: up(
            DevnetOptions(
                state_dir=state_dir, chain="anvil" if chain == "anvil" else "embedded", fund=funded
            ),
            progress=lambda m: out.info(f"  devnet: {m}"),
        ),
        lambda s: f"{s.chain} chain {s.rpc_url}, hub {s.hub}, {len(s.processes)} processes",
    )
    result: _DemoResult = {"workdir": str(workdir), "devnet": str(state.path)}
    try:
        _marketplace(out, steps_, Session(config, password_file=password_file), bundle, result)
    finally:
        if keep:
            out.info(
                f"devnet kept running: `sealrun devnet down --config {workdir / 'sealrun.toml'}` stops it"
            )
        else:
            steps_.run("devnet down", lambda: down(state), lambda d: f"stopped {d['stopped']}")
        result["timings"] = steps_.timings
    return result


def demo(
    workdir: Path = _WORKDIR,
    chain: str = _CHAIN,
    keep: bool = typer.Option(False, "--keep", help="Leave the devnet running at the end."),
    local: bool = typer.Option(False, "--local", help="Only seal and open a sample folder locally."),
    size_mib: int = _SIZE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Run the whole confidential journey on a fresh local devnet and print each step's time."""
    if local:
        local_demo(workdir=workdir, size_mib=size_mib, json_out=json_out)
        return
    if chain not in ("embedded", "anvil"):
        raise UsageError(f"--chain must be embedded or anvil, not {chain!r}", code="USAGE")
    from sealrun.cli.result import outcome_lines

    out = Output(json_out)
    workdir = workdir.resolve()
    _prepare(workdir)
    os.environ.pop("SEALRUN_DEVNET", None)  # the demo's own devnet, not one named elsewhere
    begun = time.perf_counter()
    result = _journey(out, workdir, chain, keep)
    result["timings"]["total"] = round(time.perf_counter() - begun, 3)
    from sealrun.devnet.services import WORKER_TEE

    result["tee"] = WORKER_TEE  # the devnet's worker: said on every result line below

    def human(console: Any) -> None:
        if result["exit_status"]:
            console.print(f"[red]{result['status']}[/red]: task {result['task_id']} (TEE: {result['tee']})")
            for line in outcome_lines(result["task"]):
                console.print(line, markup=False)
            return
        console.print(f"[green]{result['status']}[/green]: task {result['task_id']}")
        console.print(f"decrypted image: [bold]{result['image']}[/bold]")
        if result["tee"] == "simulated":
            console.print("[yellow]TEE: simulated[/yellow] (the devnet's worker: no hardware protection)")
        for command in result.get("verify", []):
            console.print(f"verify: {command}", markup=False)

    out.result(result, human)
    if result["exit_status"]:
        raise SystemExit(result["exit_status"])
