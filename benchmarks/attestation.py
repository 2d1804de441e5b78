"""Attestation benchmark: verification and parse-only time per evidence type (median of N runs).

For each evidence type it times, on the shared real vectors (simulated: a fresh simulated
evidence):

* ``verify``: sealrun's verifier (``standard_verifier().verify``) at the vector's ``verify_at``;
* ``reference``: the bare cryptographic core the verifier wraps, done directly with the
  libraries: ``dcap_qvl.verify_with_root_ca`` for DCAP; for SEV-SNP the two RSA-PSS chain
  signatures and the report's ECDSA P-384 signature with ``cryptography``; for Nitro the chain
  signatures and the COSE ES384 signature with ``cbor2`` + ``cryptography``; Ed25519 verify for
  simulated. ``ratio = verify / reference`` is sealrun's overhead (parsing, validity windows,
  TCB binding, claims);
* ``parse``: parsing only, no cryptography;
* ``sev-snp-cvm``: the same SNP report in confidential-VM mode (trusted image + HOST_DATA), against
  the same reference; ``tdx-eventlog``: parsing and replaying a 3-event RTMR3 log (the work the
  TDX confidential-VM mode adds to ``tdx-dcap``; no public quote has a matching log).

Refusals: the time to refuse malformed input with its code (goal: under 10 ms), per type:
truncated evidence, garbage bytes, and for the confidential-VM mode a log that is not JSON, an
oversized log, and a log that does not replay.

Run: ``uv run python benchmarks/attestation.py [--iterations 1000] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import dcap_qvl
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sealrun.core.attestation import (
    APP_EVENT_NAME,
    ConfidentialVmVerifier,
    EventLog,
    Evidence,
    EvidenceType,
    RuntimeEvent,
    SevSnpVerifier,
    SimulatorKey,
    TrustedImages,
    app_fingerprint_from_log,
    decode_evidence_text,
    make_simulated_evidence,
    nitro,
    simulated,
    snp,
    standard_verifier,
)
from sealrun.core.attestation.roots import AMD_ARK_MILAN, AMD_ASK_MILAN, AWS_NITRO_ROOT_G1, INTEL_SGX_ROOT_CA
from sealrun.errors import AttestationError

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO.parent / "shared" / "attestation-vectors"
ACCEPTED = {"sgx-dcap": "sgx-dcapqvl-sample", "tdx-dcap": "tdx-dcapqvl-sample", "sev-snp": "snp-virtee-milan",
            "nitro": "nitro-nitrite-attestation"}  # fmt: skip


def _median_us(function: Callable[[], object], iterations: int) -> float:
    function()  # warm caches (pinned roots are parsed once)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        function()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def _evidence(vectors: Path) -> dict[str, tuple[Evidence, int]]:
    entries = {entry["id"]: entry for entry in json.loads((vectors / "vectors.json").read_text())}
    cases: dict[str, tuple[Evidence, int]] = {}
    for kind, entry_id in ACCEPTED.items():
        entry = entries[entry_id]
        collateral = entry.get("collateral") or entry.get("vcek")
        cases[kind] = (
            Evidence(
                EvidenceType(kind),
                decode_evidence_text((vectors / entry["evidence"]).read_bytes()),
                None if collateral is None else (vectors / collateral).read_bytes(),
            ),
            entry["verify_at"],
        )
    key = SimulatorKey.from_private_bytes(b"\x01" * 32)
    cases["simulated"] = (make_simulated_evidence(key, measurement=b"\x02" * 32, report_data=b"\x03" * 64), 0)
    return cases


def _reference(kind: str, evidence: Evidence, now: int) -> Callable[[], object]:
    if kind in ("sgx-dcap", "tdx-dcap"):
        collateral = dcap_qvl.QuoteCollateralV3.from_json((evidence.collateral or b"").decode())
        root = INTEL_SGX_ROOT_CA.der
        return lambda: dcap_qvl.verify_with_root_ca(evidence.payload, collateral, root, now)
    if kind == "sev-snp":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vcek = x509.load_der_x509_certificate(evidence.collateral or b"")
        ask, ark, report = AMD_ASK_MILAN.certificate, AMD_ARK_MILAN.certificate, evidence.payload
        signature = encode_dss_signature(
            int.from_bytes(report[0x2A0:0x2E8], "little"), int.from_bytes(report[0x2E8:0x330], "little")
        )
        key = vcek.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)

        def snp_core() -> None:
            ask.verify_directly_issued_by(ark)
            vcek.verify_directly_issued_by(ask)
            key.verify(signature, report[:0x2A0], ec.ECDSA(hashes.SHA384()))

        return snp_core
    if kind == "nitro":

        def nitro_core() -> None:
            protected, _, body, raw_signature = cbor2.loads(evidence.payload)
            fields = cbor2.loads(body)
            issuer = AWS_NITRO_ROOT_G1.certificate
            for der in [*fields["cabundle"][1:], fields["certificate"]]:
                certificate = x509.load_der_x509_certificate(der)
                certificate.verify_directly_issued_by(issuer)
                issuer = certificate
            leaf_key = issuer.public_key()
            assert isinstance(leaf_key, ec.EllipticCurvePublicKey)
            der_signature = encode_dss_signature(
                int.from_bytes(raw_signature[:48], "big"), int.from_bytes(raw_signature[48:], "big")
            )
            leaf_key.verify(
                der_signature, cbor2.dumps(["Signature1", protected, b"", body]), ec.ECDSA(hashes.SHA384())
            )

        return nitro_core
    public = Ed25519PublicKey.from_public_bytes(SimulatorKey.from_private_bytes(b"\x01" * 32).public_key.raw)
    return lambda: public.verify(evidence.payload[-64:], evidence.payload[:-64])


def _parse(kind: str, evidence: Evidence) -> Callable[[], object]:
    if kind in ("sgx-dcap", "tdx-dcap"):
        return lambda: dcap_qvl.parse_quote(evidence.payload)
    if kind == "sev-snp":
        return lambda: snp._parse_report(evidence.payload)
    if kind == "nitro":
        return lambda: nitro._parse_body(nitro._parse_cose(evidence.payload)[1])
    return lambda: simulated._split(evidence.payload)


def _cvm_snp(evidence: Evidence, now: int) -> ConfidentialVmVerifier:
    launch = SevSnpVerifier().verify(evidence, now=now).measurement
    images = {"version": 1, "images": [{"name": "base", "tee": "sev-snp", "measurement": launch.hex()}]}
    return ConfidentialVmVerifier(SevSnpVerifier(), TrustedImages.from_text(json.dumps(images)))


def _log() -> EventLog:
    return EventLog(
        (
            RuntimeEvent.measure("sealrun.boot", b"runtime 1"),
            RuntimeEvent.measure(APP_EVENT_NAME, b"\x01" * 32),
            RuntimeEvent.measure("sealrun.key-provider", b"sms"),
        )
    )


def _cvm_rows(cases: dict[str, tuple[Evidence, int]], iterations: int) -> list[dict[str, Any]]:
    evidence, now = cases["sev-snp"]
    verifier = _cvm_snp(evidence, now)
    verify_us = _median_us(lambda: verifier.verify(evidence, now=now), iterations)
    reference_us = _median_us(_reference("sev-snp", evidence, now), iterations)
    log = _log()
    data, rtmr3 = log.to_json(), log.replay()
    replay_us = _median_us(
        lambda: app_fingerprint_from_log(EventLog.from_json(data), rtmr3=rtmr3), iterations
    )
    return [
        {"type": "sev-snp-cvm", "verify_us": round(verify_us, 1), "reference_us": round(reference_us, 1),
         "ratio": round(verify_us / reference_us, 2), "parse_us": None, "iterations": iterations},
        {"type": "tdx-eventlog", "verify_us": round(replay_us, 1), "reference_us": None, "ratio": None,
         "parse_us": None, "iterations": iterations},
    ]  # fmt: skip


def _refusal_us(function: Callable[[], object], iterations: int) -> tuple[float, str]:
    try:
        function()
    except AttestationError as error:
        code = error.code
    else:
        raise AssertionError("malformed input was accepted")

    def refuse() -> None:
        try:
            function()
        except AttestationError:
            return

    return _median_us(refuse, iterations), code


def refusals(iterations: int, vectors: Path) -> list[dict[str, Any]]:
    """Time the refusal of malformed input, per type; one row per case."""
    key = SimulatorKey.from_private_bytes(b"\x01" * 32)
    verifier = standard_verifier(simulator_public_key=key.public_key)
    cases = _evidence(vectors)
    inputs: dict[str, Callable[[], object]] = {}
    for kind, (evidence, now) in cases.items():
        truncated = Evidence(
            evidence.type, evidence.payload[: len(evidence.payload) // 2], evidence.collateral
        )
        garbage = Evidence(evidence.type, bytes(range(256)) * 4, evidence.collateral)
        inputs[f"{kind}/truncated"] = lambda e=truncated, n=now: verifier.verify(e, now=n)
        inputs[f"{kind}/garbage"] = lambda e=garbage, n=now: verifier.verify(e, now=n)
    evidence, now = cases["tdx-dcap"]
    cvm = standard_verifier(
        trusted_images=TrustedImages.from_text(
            json.dumps({"version": 1, "images": [{"name": "x", "tee": "sev-snp", "measurement": "00" * 48}]})
        )
    )
    for case, log in (("not-json", b"{" * 1000), ("oversized", b" " * (64 * 1024 + 1))):
        inputs[f"tdx-cvm/log-{case}"] = lambda log=log: cvm.verify(
            Evidence(evidence.type, evidence.payload, evidence.collateral, log), now=now
        )
    log = _log()
    inputs["tdx-eventlog/no-replay"] = lambda: app_fingerprint_from_log(
        EventLog.from_json(log.to_json()), rtmr3=bytes(48)
    )
    rows = []
    for case, function in inputs.items():
        refusal_us, code = _refusal_us(function, iterations)
        rows.append({"case": case, "code": code, "refuse_us": round(refusal_us, 1), "iterations": iterations})
    return rows  # fmt: skip


def run(iterations: int, vectors: Path) -> list[dict[str, Any]]:
    """Time every evidence type; return one row per type."""
    key = SimulatorKey.from_private_bytes(b"\x01" * 32)
    verifier = standard_verifier(simulator_public_key=key.public_key)
    rows = []
    cases = _evidence(vectors)
    for kind, (evidence, now) in cases.items():
        verify_us = _median_us(
            lambda evidence=evidence, now=now: verifier.verify(evidence, now=now), iterations
        )
        reference_us = _median_us(_reference(kind, evidence, now), iterations)
        parse_us = _median_us(_parse(kind, evidence), iterations)
        rows.append(
            {
                "type": kind,
                "verify_us": round(verify_us, 1),
                "reference_us": round(reference_us, 1),
                "ratio": round(verify_us / reference_us, 2),
                "parse_us": round(parse_us, 1),
                "iterations": iterations,
            }
        )
    return rows + _cvm_rows(cases, iterations)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--vectors", type=Path, default=VECTORS)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    arguments = parser.parse_args()
    if not (arguments.vectors / "vectors.json").is_file():
        sys.exit(f"attestation vectors not found at {arguments.vectors}")
    rows = run(arguments.iterations, arguments.vectors)
    refused = refusals(arguments.iterations, arguments.vectors)
    if arguments.json:
        document = {
            "benchmark": "attestation",
            "unit": "microseconds (median)",
            "rows": rows,
            "refusals": refused,
        }
        print(json.dumps(document, indent=2))
        return
    header = f"{'type':<12} {'verify µs':>10} {'reference µs':>13} {'ratio':>6} {'parse µs':>9}"
    print(f"{header}   (median of {arguments.iterations})")
    for row in rows:
        cells = [_cell(row[name], width, digits) for name, width, digits in _COLUMNS]
        print(f"{row['type']:<12} " + " ".join(cells))
    print("reference: dcap-qvl verify_with_root_ca (DCAP); Ed25519 verify (simulated);")
    print("           bare cryptography chain + report signatures (SNP, Nitro)")
    print()
    print(f"{'refusal of malformed input':<28} {'code':<28} {'µs':>9}")
    for row in refused:
        print(f"{row['case']:<28} {row['code']:<28} {row['refuse_us']:>9.1f}")


_COLUMNS = (("verify_us", 10, 1), ("reference_us", 13, 1), ("ratio", 6, 2), ("parse_us", 9, 1))


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


if __name__ == "__main__":
    main()
