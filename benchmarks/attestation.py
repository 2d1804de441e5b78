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
* ``parse``: parsing only, no cryptography.

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
    Evidence,
    EvidenceType,
    SimulatorKey,
    decode_evidence_text,
    make_simulated_evidence,
    nitro,
    simulated,
    snp,
    standard_verifier,
)
from sealrun.core.attestation.roots import AMD_ARK_MILAN, AMD_ASK_MILAN, AWS_NITRO_ROOT_G1, INTEL_SGX_ROOT_CA

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


def run(iterations: int, vectors: Path) -> list[dict[str, Any]]:
    """Time every evidence type; return one row per type."""
    key = SimulatorKey.from_private_bytes(b"\x01" * 32)
    verifier = standard_verifier(simulator_public_key=key.public_key)
    rows = []
    for kind, (evidence, now) in _evidence(vectors).items():
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
    return rows


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
    if arguments.json:
        print(
            json.dumps({"benchmark": "attestation", "unit": "microseconds (median)", "rows": rows}, indent=2)
        )
        return
    header = f"{'type':<10} {'verify µs':>10} {'reference µs':>13} {'ratio':>6} {'parse µs':>9}"
    print(f"{header}   (median of {arguments.iterations})")
    for row in rows:
        print(
            f"{row['type']:<10} {row['verify_us']:>10.1f} {row['reference_us']:>13.1f} "
            f"{row['ratio']:>6.2f} {row['parse_us']:>9.1f}"
        )
    print("reference: dcap-qvl verify_with_root_ca (DCAP); Ed25519 verify (simulated);")
    print("           bare cryptography chain + report signatures (SNP, Nitro)")


if __name__ == "__main__":
    main()
