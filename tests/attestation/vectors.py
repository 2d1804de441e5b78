"""Helpers to read the shared attestation vectors and map their claim names onto ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sealrun.core.attestation import Evidence, EvidenceType, decode_evidence_text

# The vectors' expected_reason → our stable code (also documented in docs/attestation.md).
REASON_CODES = {
    "debug": "ATTEST_DEBUG",
    "no matching tcb level": "ATTEST_NO_MATCHING_TCB",
    "untrusted root": "ATTEST_UNTRUSTED_ROOT",
    "signature": "ATTEST_SIGNATURE",
}

# Vector claim name → where it lives in Claims.to_dict(): a top-level key or ("extra", name).
_TOP = {
    "tcb_status": "tcb_status",
    "advisory_ids": "advisories",
    "mrenclave": "measurement",
    "mrtd": "measurement",
    "measurement": "measurement",
    "mrsigner": "signer",
    "isv_prod_id": "product_id",
    "isv_svn": "svn",
    "guest_svn": "svn",
    "report_data": "report_data",
    "debug": "debug",
}


class VectorsMissingError(Exception):
    """The attestation vectors are not there: the run must stop, never skip (see required_vectors)."""


def load_vectors(vectors_dir: Path) -> list[dict[str, Any]]:
    """The entries of vectors.json."""
    entries: list[dict[str, Any]] = json.loads((vectors_dir / "vectors.json").read_text())
    return entries


def required_vectors(vectors_dir: Path) -> list[dict[str, Any]]:
    """The entries of vectors.json for module-level parametrization; raise if there are none.

    Called while pytest collects a module, the error makes that module a collection error:
    without it a missing folder would parametrize zero cases, which pytest reports as skips.

    Raises:
        VectorsMissingError: no folder, no vectors.json, or an empty list.
    """
    where = vectors_dir / "vectors.json"
    if not where.is_file():
        raise VectorsMissingError(
            f"attestation vectors missing: no {where} (set SEALRUN_TEST_VECTORS to the folder)"
        )
    entries = load_vectors(vectors_dir)
    if not entries:
        raise VectorsMissingError(f"attestation vectors missing: {where} lists none")
    return entries


def vector_ids(vectors_dir: Path) -> list[str]:
    """The ids of every vector (for parametrization)."""
    return [entry["id"] for entry in load_vectors(vectors_dir)]


def collateral_path(vectors_dir: Path, entry: dict[str, Any]) -> Path | None:
    """The file our verifier takes as collateral: DCAP JSON or the SNP VCEK."""
    name = entry.get("collateral") or entry.get("vcek")
    return None if name is None else vectors_dir / name


def evidence_for(vectors_dir: Path, entry: dict[str, Any]) -> Evidence:
    """Build the Evidence of one vector (decoding hex / base64 evidence files)."""
    payload = decode_evidence_text((vectors_dir / entry["evidence"]).read_bytes())
    collateral = collateral_path(vectors_dir, entry)
    return Evidence(
        type=EvidenceType(entry["evidence_type"]),
        payload=payload,
        collateral=None if collateral is None else collateral.read_bytes(),
    )


def actual_claim(claims: dict[str, Any], name: str) -> Any:
    """Read the vector's claim ``name`` from our ``Claims.to_dict()`` rendering."""
    if name in _TOP:
        return claims[_TOP[name]]
    value = claims["extra"][name]
    if name == "policy":
        return hex(value)
    return value
