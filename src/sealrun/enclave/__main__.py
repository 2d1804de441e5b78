"""The enclave process: ``python -m sealrun.enclave run --bundle DIR --work DIR ...``.

This is the composition root of the trusted side: it builds the sandbox, the quoter of its
TEE and the secrets source from its arguments, runs one task and exits. It prints nothing
but, on an error that prevented a report, one line ``error [CODE]: message`` on stderr
(exit status 1). The report itself is ``<work>/report.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import SimulatedQuoter, load_simulator_key
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the enclave process; return its exit status."""
    args = _parser().parse_args(argv)
    try:
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
