"""The enclave process: ``python -m sealrun.enclave run|attest ...``.

``run --bundle DIR --work DIR [--tee NAME] [--simulator-key PEM] (--sms URL --task-id HEX --worker ADDR
--authorization HEX | --secrets-file FILE)`` runs one task;
``attest --bundle DIR --simulator-key PEM --nonce HEX --public-key HEX --task-id HEX``
prints the evidence the enclave would send the SMS (one JSON envelope on stdout);
``session --bundle DIR --sms URL --worker ADDR [--tee ...]`` attests once and then runs one
task per line of stdin, each in a fresh sandbox (isolation mode ``session``,
:mod:`sealrun.enclave.sessionloop`).
``--tee`` is ``simulated`` (the default; needs ``--simulator-key``), ``tdx``, ``sev-snp``
(configfs-tsm, else the guest device) or ``gramine-sgx`` (``/dev/attestation``);
``--tee-root`` is the folder that stands for ``/`` when looking for those interfaces.

This is the composition root of the trusted side: it builds the sandbox, the quoter of its
TEE and the secrets source from its arguments, runs one task and exits. It prints nothing
but, on an error that prevented a report, one line ``error [CODE]: message`` on stderr
(exit status 1). The report itself is ``<work>/report.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import Quoter, SimulatedQuoter, load_simulator_key
from sealrun.adapters.tee.hardware import BACKENDS, hardware_quoter, tdx_event_recorder
from sealrun.adapters.tee.tsm import CollateralSource
from sealrun.core.attestation import report_data_for
from sealrun.core.netpolicy import FetchPolicy
from sealrun.enclave.runtime import EnclaveRuntime, RuntimeSettings
from sealrun.enclave.secrets import SecretsSource, UnsafeLocalSecretsFile
from sealrun.enclave.smssecrets import SmsSecrets
from sealrun.errors import SealrunError, UsageError


def _tee_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tee", choices=BACKENDS, default="simulated", help="the TEE (default: simulated)")
    parser.add_argument("--simulator-key", type=Path, help="simulated TEE: the simulator key (PEM)")
    parser.add_argument(
        "--tee-root", type=Path, default=Path("/"), help="the folder standing for / for TEE interfaces"
    )
    parser.add_argument(
        "--collateral-url",
        default=None,
        help="hardware TEEs: the Intel PCS or PCCS each quote's collateral comes from (default: Intel's)",
    )
    parser.add_argument(
        "--collateral-cache", type=Path, default=None, help="the collateral cache folder (default: per user)"
    )
    parser.add_argument(
        "--no-collateral-fetch",
        action="store_true",
        help="send quotes without fetched collateral (the verifier must have it)",
    )


def _collateral_source(args: argparse.Namespace) -> CollateralSource | None:
    """What fetches each fresh quote's collateral (its cache first), unless turned off."""
    if args.no_collateral_fetch:
        return None
    from sealrun.adapters.collateral import (  # httpx and the fetcher: hardware TEEs only
        INTEL_PCS_URL,
        CollateralCache,
        CollateralFetcher,
        default_cache_dir,
        quoting_collateral,
    )

    cache = CollateralCache(args.collateral_cache or default_cache_dir())
    return quoting_collateral(CollateralFetcher(cache=cache, pcs_url=args.collateral_url or INTEL_PCS_URL))


def _make_quoter(args: argparse.Namespace) -> Callable[[bytes], Quoter]:
    """The quoter factory of ``--tee`` (the simulator key is read now, once)."""
    if args.tee == "simulated":
        if args.simulator_key is None:
            raise UsageError("the simulated TEE needs --simulator-key", code="USAGE")
        key = load_simulator_key(args.simulator_key)
        return lambda measurement: SimulatedQuoter(key=key, measurement=measurement)
    if args.simulator_key is not None:
        raise UsageError(f"--simulator-key is for the simulated TEE, not {args.tee}", code="USAGE")
    tee, root, collateral = args.tee, args.tee_root, _collateral_source(args)
    if tee != "tdx":
        return lambda measurement: hardware_quoter(tee, measurement, root=root, collateral=collateral)

    def tdx_quoter(measurement: bytes) -> Quoter:
        # TDX: the app's fingerprint goes into RTMR3 through the event log before any quote,
        # and the log goes with each quote (the verifier replays it, docs/attestation.md).
        hardware_quoter(tee, measurement, root=root)  # QUOTE_UNAVAILABLE first: no TDX guest at all
        recorder = tdx_event_recorder(root)
        recorder.ensure_app(measurement)
        return hardware_quoter(
            tee, measurement, root=root, collateral=collateral, event_log=recorder.log_bytes
        )

    return tdx_quoter


def _fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-http-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a scheme://host:port whose plain-http inputs are allowed (the worker's own store)",
    )
    parser.add_argument(
        "--max-input-bytes",
        type=int,
        help="the most bytes of inputs a task may fetch in total (worker's cap)",
    )
    parser.add_argument(
        "--tls-ca-file",
        type=Path,
        help="the CA bundle the SMS's and the store's TLS certificates are verified against",
    )


def _session(args: argparse.Namespace) -> None:
    """Serve tasks over one attested session until stdin ends."""
    from sealrun.enclave.sessionloop import SessionLoop, quote_in_child
    from sealrun.enclave.sessions import EnclaveSession

    if args.tee == "simulated" and args.simulator_key is None:
        raise UsageError("the simulated TEE needs --simulator-key", code="USAGE")
    measured = load_bundle(args.bundle)
    measurement = measured.fingerprint
    session = EnclaveSession(
        client=SmsClient(args.sms, ca_file=args.tls_ca_file),
        worker=args.worker,
        measurement=measurement,
        requires_strict=measured.manifest.requires_strict,
        # The quoting key is read by a short-lived child only (see sessionloop).
        quote=lambda data: quote_in_child(lambda m: _make_quoter(args)(m), measurement, data),
    )
    hardware = None if args.tee == "simulated" else _make_quoter(args)
    SessionLoop(
        session=session,
        bundle_dir=args.bundle,
        tee=args.tee,
        settings=_runtime_settings(args),
        simulator_key_file=args.simulator_key if args.tee == "simulated" else None,
        hardware_quoter=hardware,
    ).serve(sys.stdin, sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sealrun.enclave", description="Run one task in an enclave."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one task")
    run.add_argument("--bundle", type=Path, required=True, help="the app bundle folder")
    run.add_argument("--work", type=Path, required=True, help="the task's work folder")
    _tee_arguments(run)
    run.add_argument("--secrets-file", type=Path, help="a local plaintext secrets bundle (no SMS)")
    run.add_argument("--sms", help="the SMS URL: attest to it and receive the secrets bundle")
    run.add_argument("--task-id", help="with --sms: hex task id (32 bytes)")
    run.add_argument("--worker", help="with --sms: the authorized worker's address")
    run.add_argument("--authorization", help="with --sms: hex scheduler authorization (65 bytes)")
    _fetch_arguments(run)
    session = commands.add_parser("session", help="attest once, then run one task per line of stdin")
    session.add_argument("--bundle", type=Path, required=True, help="the app bundle folder (measured)")
    _tee_arguments(session)
    session.add_argument("--sms", required=True, help="the SMS URL")
    session.add_argument("--worker", required=True, help="the worker's address")
    _fetch_arguments(session)
    attest = commands.add_parser("attest", help="print evidence for a nonce, an ephemeral key and a task")
    attest.add_argument("--bundle", type=Path, required=True, help="the app bundle folder (measured)")
    _tee_arguments(attest)
    attest.add_argument("--nonce", required=True, help="hex nonce from the SMS")
    attest.add_argument("--public-key", required=True, help="hex ephemeral X25519 public key (32 bytes)")
    attest.add_argument("--task-id", required=True, help="hex task id (32 bytes)")
    return parser


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as error:
        raise UsageError(f"{what} is not hex", code="USAGE") from error


def _attest(args: argparse.Namespace) -> None:
    quoter = _make_quoter(args)(load_bundle(args.bundle).fingerprint)
    data = report_data_for(
        _hex(args.nonce, "nonce"), _hex(args.public_key, "public key"), _hex(args.task_id, "task id")
    )
    sys.stdout.write(quoter.evidence(data).to_json() + "\n")


def _runtime_settings(args: argparse.Namespace) -> RuntimeSettings:
    """The worker's fetch policy: https from the public internet, plus its named origins."""
    limits = {}
    if args.max_input_bytes is not None:
        limits = {"max_input_bytes": args.max_input_bytes, "max_total_bytes": args.max_input_bytes}
    return RuntimeSettings(
        fetch=FetchPolicy(allowed_http_origins=frozenset(args.allow_http_origin), **limits),
        tls_ca_file=args.tls_ca_file,
    )


def _secrets_source(args: argparse.Namespace) -> SecretsSource:
    # Exactly one source: the SMS (attested release) or a local file (development only).
    if (args.sms is None) == (args.secrets_file is None):
        raise UsageError("pass exactly one of --sms or --secrets-file", code="USAGE")
    if args.secrets_file is not None:
        return UnsafeLocalSecretsFile(args.secrets_file)
    if args.task_id is None or args.worker is None or args.authorization is None:
        raise UsageError("--sms needs --task-id, --worker and --authorization", code="USAGE")
    return SmsSecrets(
        client=SmsClient(args.sms, ca_file=args.tls_ca_file),
        task_id=_hex(args.task_id, "task id"),
        worker=args.worker,
        authorization=_hex(args.authorization, "authorization"),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the enclave process; return its exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "attest":
            _attest(args)
            return 0
        if args.command == "session":
            _session(args)
            return 0
        secrets = _secrets_source(args)
        if args.tee == "simulated" and args.simulator_key is None:
            raise UsageError("the simulated TEE needs --simulator-key", code="USAGE")
        if os.geteuid() == 0:
            # The worker's launch: the task runs as its own uid, the key stays with us.
            from sealrun.enclave.isolation import IsolatedLaunch, run_isolated

            launch = IsolatedLaunch(
                bundle_dir=args.bundle,
                work_dir=args.work,
                simulator_key_file=args.simulator_key if args.tee == "simulated" else None,
                hardware_quoter=None if args.tee == "simulated" else _make_quoter(args),
                # A local bundle is read now: the task's uid may not read the file.
                secrets=secrets.loaded() if isinstance(secrets, UnsafeLocalSecretsFile) else secrets,
                settings=_runtime_settings(args),
            )
            return 0 if run_isolated(launch) == 0 else 1
        # Not root: no other uid to run as. The task shares the caller's uid (development only).
        runtime = EnclaveRuntime(
            sandbox=BubblewrapSandbox(),
            make_quoter=_make_quoter(args),
            settings=_runtime_settings(args),
        )
        runtime.run(args.bundle, secrets, args.work)
    except SealrunError as error:
        sys.stderr.write(f"error [{error.code}]: {error.message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
