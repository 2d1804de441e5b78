"""``sealrun verify``: check a task's receipt as a third party would (no wallet, no account).

``sealrun verify TASK`` fetches the task's receipt from the store (public) and checks it
against the chain (the settlement event that bound its digest, the registered app
fingerprint, the dataset's checksum, the deal's params) and the SMS (its release signer and
audit log). ``sealrun verify RECEIPT --offline`` checks a receipt file alone: its signature,
its task binding, its evidence under the pinned roots, its fingerprint and the SMS's signed
release record (against ``--sms-signer`` when given). ``--receipt FILE`` checks a local
receipt file online.

Each check prints one line ``pass|fail|simulated|skipped  CODE  detail [REASON]``; the exit
status is 0 only when every check passed (offline: ``skipped`` chain checks aside).
Simulated TEE evidence fails ``VERIFY_EVIDENCE`` (``RECEIPT_EVIDENCE_SIMULATED``) unless
``--allow-simulated``, and then reads ``simulated``, never ``pass``. Codes: ``docs/formats.md``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sealrun.api.ids import parse_task_id
from sealrun.cli.output import EXIT_ERROR, JSON_OPTION, Output
from sealrun.cli.session import CHAIN_OPTION, CONFIG_OPTION, Session
from sealrun.core.receipts import MAX_RECEIPT_BYTES
from sealrun.errors import ConfigError, ReceiptError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from sealrun.adapters.receipts import Verdict
    from sealrun.core.attestation import SimulatorPublicKey
    from sealrun.core.receipts.checks import ChainFacts

__all__ = ["chain_for", "devnet_simulator", "simulator_public_key", "verify", "verify_demo_task"]

_TARGET = typer.Argument(..., help="A task id (online), or a receipt file with --offline.")
_OFFLINE = typer.Option(False, "--offline", help="Check a receipt file alone: no chain, no network.")
_RECEIPT = typer.Option(None, "--receipt", help="Check this receipt file (online) instead of the store's.")
_ALLOW_SIMULATED = typer.Option(
    False, "--allow-simulated", help="Accept simulated TEE evidence (reported as 'simulated', never 'pass')."
)
_SIMULATOR_KEY = typer.Option(
    None, "--simulator-key", help="The deployment's simulator public key (PEM); default: the devnet's."
)
_SMS_SIGNER = typer.Option(None, "--sms-signer", help="The SMS release signer address you trust.")
_STORE = typer.Option(None, "--store", help="The store's URL (default: $SEALRUN_STORE_URL or the devnet's).")
_SMS = typer.Option(None, "--sms", help="The SMS's URL (default: $SEALRUN_SMS_URL or the devnet's).")
_SAVE = typer.Option(None, "--save", help="Keep the fetched receipt in this file (for --offline later).")
_RPC = typer.Option(None, "--rpc-url", help="A chain RPC URL (with --hub): no sealrun.toml needed.")
_HUB = typer.Option(None, "--hub", help="The hub's address (with --rpc-url).")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_RECEIPT_BYTES + 1)
    except OSError as error:
        raise ConfigError(
            f"cannot read the receipt {path}: {error.strerror}", code="FILE_UNREADABLE"
        ) from None
    return raw


def simulator_public_key(path: Path | None) -> SimulatorPublicKey | None:
    from sealrun.core.attestation import SimulatorKey, SimulatorPublicKey
    from sealrun.errors import AttestationError

    if path is None:
        return None
    data = _read(path)
    try:
        return SimulatorPublicKey.parse(data)
    except AttestationError:
        return SimulatorKey.parse(data).public_key  # a private key file also names its public key


def _session(config: Path | None, chain: str | None) -> Session | None:
    try:
        return Session.load(config, chain)
    except ConfigError:
        return None  # a third party may have no project: flags and environment only


def _url(session: Session | None, explicit: str | None, service: str) -> str | None:
    if explicit:
        return explicit.rstrip("/")
    if session is None:
        import os

        value = os.environ.get(f"SEALRUN_{service.upper()}_URL")
        return value.rstrip("/") if value else None
    return session.optional_service_url(service)


def devnet_simulator(session: Session | None) -> Path | None:
    devnet = None if session is None else session.devnet()
    if devnet is None:
        return None
    candidate = devnet.root / "keys" / "simulator.pub.pem"
    return candidate if candidate.is_file() else None


def chain_for(session: Session | None, task: bytes, rpc_url: str | None, hub: str | None) -> ChainFacts:
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.receipts import chain_facts

    if rpc_url is not None or hub is not None:
        if rpc_url is None or hub is None:
            raise UsageError("--rpc-url and --hub go together", code="USAGE")
        with tempfile.TemporaryDirectory(prefix="sealrun-verify-") as folder:
            market = Marketplace.connect(rpc_url, hub=hub, account=None, index=Path(folder) / "index.sqlite")
            return chain_facts(market, task)
    if session is None:
        raise ConfigError(
            "no chain: pass --rpc-url and --hub, or run inside a project", code="CONFIG_NOT_FOUND"
        )
    return chain_facts(session.market(wallet=False), task, start_block=session.profile.deploy_block)


def _save(path: Path, raw: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_bytes(raw)
        partial.replace(path)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}", code="OUTPUT_UNWRITABLE") from None


def _human(verdict: Verdict) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        receipt = verdict.receipt
        console.print(
            f"receipt 0x{receipt.digest.hex()} of task 0x{receipt.task_id.hex()} ({receipt.status})"
        )
        for check in verdict.checks:
            reason = f" [{check.reason}]" if check.reason else ""
            console.print(f"{check.status:<9} {check.code:<18} {check.detail}{reason}", markup=False)
        mode = "offline" if verdict.offline else "online"
        console.print(f"{'VERIFIED' if verdict.verified else 'NOT VERIFIED'} ({mode})")

    return render


def verify_demo_task(session: Session, task_id: bytes) -> list[str]:
    """Verify the task's receipt online (as ``sealrun verify`` does) and keep it with the
    devnet's simulator key in ``tee/``, so the offline command still passes once the devnet is down."""
    import shutil

    from sealrun.adapters.receipts import fetch_receipt, sms_facts, verify_receipt
    from sealrun.errors import DemoError

    chain = chain_for(session, task_id, None, None)
    raw = fetch_receipt(session.service_url("store"), task_id, prefer=chain.receipt_digest)
    simulator = devnet_simulator(session)
    verdict = verify_receipt(
        raw, now=int(time.time()), simulator_key=simulator_public_key(simulator), allow_simulated=True,
        expected_task=task_id, chain=chain,
        sms=sms_facts(session.optional_service_url("sms"), raw),
    )  # fmt: skip
    if not verdict.verified:
        failed = [f"{c.code} [{c.reason}]" for c in verdict.checks if c.status == "fail"]
        raise DemoError(f"the task's receipt does not verify: {', '.join(failed)}", code="DEMO_VERIFY_FAILED")
    folder = session.config.path.parent / "tee"
    receipt, key = folder / f"receipt-0x{task_id.hex()}.json", folder / "simulator.pub.pem"
    receipt.write_bytes(raw)
    if simulator is not None:
        shutil.copyfile(simulator, key)
    config = session.config.path
    return [
        f"sealrun verify 0x{task_id.hex()} --allow-simulated --config {config}  (with --keep)",
        f"sealrun verify {receipt} --offline --allow-simulated --simulator-key {key}",
    ]


def verify(
    target: str = _TARGET,
    offline: bool = _OFFLINE,
    receipt_file: Path | None = _RECEIPT,
    allow_simulated: bool = _ALLOW_SIMULATED,
    simulator_key: Path | None = _SIMULATOR_KEY,
    sms_signer: str | None = _SMS_SIGNER,
    store: str | None = _STORE,
    sms: str | None = _SMS,
    rpc_url: str | None = _RPC,
    hub: str | None = _HUB,
    save: Path | None = _SAVE,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Verify a task's receipt: online (chain, store, SMS) or --offline (a receipt file).

    Exits 0 only if every check passed.
    """
    from sealrun.adapters.receipts import fetch_receipt, sms_facts, verify_receipt

    out = Output(json_out)
    now = int(time.time())
    if offline:
        if receipt_file is not None:
            raise UsageError("--offline reads the receipt named as TARGET, not --receipt", code="USAGE")
        session = _session(config, chain)
        key_path = simulator_key or devnet_simulator(session)
        verdict = verify_receipt(
            _read(Path(target)), now=now, simulator_key=simulator_public_key(key_path),
            allow_simulated=allow_simulated, sms_signer=sms_signer,
        )  # fmt: skip
    else:
        task = parse_task_id(target)
        session = _session(config, chain)
        key_path = simulator_key or devnet_simulator(session)
        facts = chain_for(session, task, rpc_url, hub)
        if receipt_file is not None:
            raw = _read(receipt_file)
        else:
            store_url = _url(session, store, "store")
            if store_url is None:
                raise ReceiptError(
                    "no store to fetch the receipt from: pass --store", code="RECEIPT_UNAVAILABLE"
                )
            raw = fetch_receipt(store_url, task, prefer=facts.receipt_digest)
            if save is not None:
                _save(save, raw)
        verdict = verify_receipt(
            raw, now=now, simulator_key=simulator_public_key(key_path), allow_simulated=allow_simulated,
            expected_task=task, sms_signer=sms_signer, chain=facts,
            sms=sms_facts(_url(session, sms, "sms"), raw),
        )  # fmt: skip
    out.result(
        {
            "verified": verdict.verified,
            "offline": verdict.offline,
            "task_id": "0x" + verdict.receipt.task_id.hex(),
            "status": verdict.receipt.status,
            "receipt_digest": "0x" + verdict.receipt.digest.hex(),
            "checks": [check.to_dict() for check in verdict.checks],
        },
        _human(verdict),
    )
    if not verdict.verified:
        raise SystemExit(EXIT_ERROR)
