"""The real SMS application as its own process, for the kill -9 tests (``python -m tests.sms.crashserver``).

Everything is production code (settings from ``SEALRUN_SMS_*``, ``create_app``, uvicorn)
except the chain: the process reads the test world's deals from an in-memory chain (a test
double of :mod:`sealrun.testing`), rebuilt identically at every start, and a fixed clock, so
that a fresh process after the crash sees the same tasks as the killed one.
``SEALRUN_CRASH_TASKS`` says how many deals (one task each) the world holds.
"""

from __future__ import annotations

import hashlib
import os

import uvicorn

from sealrun.core.attestation import SimulatorKey
from sealrun.services.sms.app import create_app
from sealrun.services.sms.settings import SmsSettings
from sealrun.testing.chainstate import InMemoryChainReader
from tests.sms.conftest import Clock, World


def crash_world(simulator: SimulatorKey, tasks: int) -> World:
    """The world both the test and every SMS process build: ``tasks`` extra deals, one task each."""
    world = World(chain=InMemoryChainReader(), clock=Clock(), simulator=simulator)
    for number in range(tasks):
        world.add_deal(crash_deal(number))
    return world


def crash_deal(number: int) -> bytes:
    """The id of the crash test's deal ``number``."""
    return hashlib.sha256(f"crash-deal-{number}".encode()).digest()


def main() -> None:
    """Serve the SMS until killed."""
    settings = SmsSettings()
    # The process never makes evidence: the verifying key comes from the settings' PEM file.
    world = crash_world(SimulatorKey.generate(), int(os.environ["SEALRUN_CRASH_TASKS"]))
    app = create_app(settings, chain=world.chain, clock=world.clock)
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning", ws="none")


if __name__ == "__main__":
    main()
