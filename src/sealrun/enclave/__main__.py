"""The enclave process: ``python -m sealrun.enclave run|attest ...``.

``run --bundle DIR --work DIR --simulator-key PEM --secrets-file FILE`` runs one task;
``attest --bundle DIR --simulator-key PEM --nonce HEX --public-key HEX --task-id HEX``
prints the evidence the enclave would send the SMS (one JSON envelope on stdout).

This is the composition root of the trusted side: it builds the sandbox, the quoter of its
TEE and the secrets source from its arguments, runs one task and exits. It prints nothing
but, on an error that prevented a report, one line ``error [CODE]: message`` on stderr
(exit status 1). The report itself is ``<work>/report.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import SimulatedQuoter, load_simulator_key
from sealrun.core.attestation import report_data_for
from sealrun.enclave.runtime import EnclaveRuntime
from sealrun.enclave.secrets import LocalSecretsFile
from sealrun.errors import ConfigError, SealrunError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sealrun.enclave", description="Run one task in an enclave."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one task")
    run.add_argument("--bundle", type=Path, required=True, help="the app bundle folder")
    run.add_argument("--work", type=Path, required=True, help="the task's work folder")
    run.add_argument(
        "--simulator-key", type=Path, required=True, help="simulated TEE: the simulator key (PEM)"
    )
    run.add_argument("--secrets-file", type=Path, help="a local plaintext secrets bundle (no SMS)")
    run.add_argument("--sms", help="the SMS URL (not available yet)")
    attest = commands.add_parser("attest", help="print evidence for a nonce, an ephemeral key and a task")
    attest.add_argument("--bundle", type=Path, required=True, help="the app bundle folder (measured)")
    attest.add_argument("--simulator-key", type=Path, required=True, help="the simulator key (PEM)")
    attest.add_argument("--nonce", required=True, help="hex nonce from the SMS")
    attest.add_argument("--public-key", required=True, help="hex ephemeral X25519 public key (32 bytes)")
    attest.add_argument("--task-id", required=True, help="hex task id (32 bytes)")
    return parser


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as error:
        raise ConfigError(f"{what} is not hex", code="USAGE") from error


def _attest(args: argparse.Namespace) -> None:
    key = load_simulator_key(args.simulator_key)
    quoter = SimulatedQuoter(key=key, measurement=load_bundle(args.bundle).fingerprint)
    data = report_data_for(
        _hex(args.nonce, "nonce"), _hex(args.public_key, "public key"), _hex(args.task_id, "task id")
    )
    sys.stdout.write(quoter.evidence(data).to_json() + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the enclave process; return its exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "attest":
            _attest(args)
            return 0
        if args.secrets_file is None:
            raise ConfigError("the SMS secrets source is not wired in yet: pass --secrets-file", code="USAGE")
        key = load_simulator_key(args.simulator_key)
        runtime = EnclaveRuntime(
            sandbox=BubblewrapSandbox(),
            make_quoter=lambda measurement: SimulatedQuoter(key=key, measurement=measurement),
        )
        runtime.run(args.bundle, LocalSecretsFile(args.secrets_file), args.work)
    except SealrunError as error:
        sys.stderr.write(f"error [{error.code}]: {error.message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
