"""``python -m tests.hostile.serve SERVICE PORT FOLDER``: one service as a real server process.

The SMS, market and scheduler are built by their own ``create_app`` with the chain and the
SMS replaced by ``sealrun.testing``-style doubles (nothing else differs from ``__main__``:
same imports, hence the same Ethereum stack that raised the recursion limit, same uvicorn).
A separate process, so a crash is a dead process the test sees, not a dead test runner.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import uvicorn

CHAIN_ID = 31337
HUB = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
POOL = "0x" + "77" * 20
WORKER = "0x" + "66" * 20


class _Ledger:
    def consumed(self, order_hash: bytes) -> int:
        return 0


class _Categories:
    def category(self, category_id: int) -> Any:
        return None

    def task(self, task_id: bytes) -> Any:
        return None


class _Challenges:
    def enclave_challenge(self, task: bytes) -> str:
        return "0x" + "00" * 20


def build(service: str, folder: Path) -> Any:
    """The app of ``service`` with test doubles for the chain and the SMS."""
    from sealrun.testing.chainstate import InMemoryChainReader

    if service == "sms":
        from sealrun.core.attestation import SimulatorKey
        from sealrun.services.sms.app import create_app as sms_app
        from sealrun.services.sms.settings import SmsSettings

        key_file = folder / "simulator.pem"
        key_file.write_bytes(SimulatorKey.generate().public_key.to_pem())
        settings = SmsSettings(
            mode="embedded-devnet",
            data_dir=folder,
            master_key="0x" + "42" * 32,  # type: ignore[arg-type]
            chain_id=CHAIN_ID,
            hub=HUB,
            allow_simulated_evidence=True,
            simulator_public_key_file=key_file,
            upload_token_key="u" * 32,  # type: ignore[arg-type]
        )
        return sms_app(settings, chain=InMemoryChainReader())
    if service == "market":
        from sealrun.services.market.app import create_app as market_app
        from sealrun.services.market.settings import MarketSettings

        market = MarketSettings(database_url=f"sqlite:///{folder / 'market.db'}", hub=HUB)
        return market_app(
            market, chain_id=CHAIN_ID, reader=InMemoryChainReader(), ledger=_Ledger(), events=None
        )
    if service == "scheduler":
        from sealrun.services.scheduler.app import SchedulerParts
        from sealrun.services.scheduler.app import create_app as scheduler_app
        from sealrun.services.scheduler.settings import SchedulerSettings

        scheduler = SchedulerSettings(
            workerpool=POOL,
            owner_key="0x" + "21" * 32,  # type: ignore[arg-type]
            database_url=f"sqlite:///{folder / 'scheduler.db'}",
            hub=HUB,
            allowed_workers=[WORKER],
        )
        parts = SchedulerParts(
            chain_id=CHAIN_ID, events=None, categories=_Categories(), challenges=_Challenges()
        )
        return scheduler_app(scheduler, parts)
    raise SystemExit(f"unknown service {service!r}")


def main() -> None:
    """Serve the service named on the command line until killed."""
    service, port, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    uvicorn.run(build(service, folder), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
