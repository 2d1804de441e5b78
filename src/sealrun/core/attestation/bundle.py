"""Offline collateral bundles: what to fetch for a piece of evidence, and one file holding it all.

:func:`collateral_request` reads from the evidence itself what collateral it needs: for a DCAP
quote the TEE, the FMSPC and the PCK CA (``processor``/``platform``) of its PCK certificate;
for an SEV-SNP report the chip id (hwID), the reported TCB's SPLs and, for a version 3 report,
the product line.

A bundle (``sealrun attestation collateral bundle``) is one JSON file::

    {"version": 1, "kind": "sealrun-collateral-bundle", "created_at": <UNIX s>,
     "entries": [{"type": "tdx-dcap", "key": "<FMSPC>", "collateral": "<base64>",
                  "issued_at": <UNIX s> | null, "next_update": <UNIX s> | null}, ...]}

``key`` is the FMSPC (upper-case hex) for DCAP, the chip id (lower-case hex) for SEV-SNP.
:func:`select_collateral` picks an evidence's collateral from it (the last entry with its key);
the verifier then checks that collateral exactly as if it came with the evidence.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass
from typing import Any

import dcap_qvl

from sealrun.core.attestation.codes import ATTEST_COLLATERAL, ATTEST_MALFORMED
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.snp import REPORT_SIZE, _tcb, report_product
from sealrun.errors import AttestationError

__all__ = [
    "BUNDLE_KIND",
    "BundleEntry",
    "CollateralRequest",
    "collateral_request",
    "dump_bundle",
    "parse_bundle",
    "select_collateral",
]

BUNDLE_KIND = "sealrun-collateral-bundle"
_MAX_BUNDLE_BYTES = 64 << 20
_DCAP = (EvidenceType.SGX_DCAP, EvidenceType.TDX_DCAP)


@dataclass(frozen=True)
class CollateralRequest:
    """What one piece of evidence needs: DCAP (``tee``, ``fmspc``, ``ca``) or SEV-SNP
    (``hwid``, ``tcb``, ``product`` if the report names it)."""

    type: EvidenceType
    key: str
    tee: str | None = None
    fmspc: str | None = None
    ca: str | None = None
    hwid: bytes | None = None
    tcb: dict[str, int] | None = None
    product: str | None = None


def collateral_request(evidence_type: EvidenceType, payload: bytes) -> CollateralRequest:
    """Read the collateral an evidence needs from the evidence itself.

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` (does not parse) or ``ATTEST_COLLATERAL`` (a type
            that takes no fetched collateral).
    """
    if evidence_type in _DCAP:
        try:
            quote = dcap_qvl.parse_quote(payload)
            fmspc, ca, is_tdx = str(quote.fmspc()).upper(), str(quote.ca()).lower(), bool(quote.is_tdx())
        except BaseException as error:  # dcap-qvl: ValueError, or a Rust panic (BaseException)
            if isinstance(error, (KeyboardInterrupt, SystemExit, MemoryError)):
                raise
            raise AttestationError("not a DCAP quote with a PCK certificate", code=ATTEST_MALFORMED) from None
        tee = "tdx" if is_tdx else "sgx"
        if (evidence_type is EvidenceType.TDX_DCAP) != is_tdx:
            raise AttestationError(
                f"the quote is {tee.upper()}, not {evidence_type.value}", code=ATTEST_MALFORMED
            )
        return CollateralRequest(type=evidence_type, key=fmspc, tee=tee, fmspc=fmspc, ca=ca)
    if evidence_type is EvidenceType.SEV_SNP:
        if len(payload) != REPORT_SIZE:
            raise AttestationError(f"an SEV-SNP report is {REPORT_SIZE} bytes", code=ATTEST_MALFORMED)
        version = struct.unpack_from("<I", payload, 0)[0]
        product = report_product(payload[0x188], payload[0x189]) if version >= 3 else None
        hwid = payload[0x1A0:0x1E0]
        tcb = _tcb(struct.unpack_from("<Q", payload, 0x180)[0], product)
        return CollateralRequest(type=evidence_type, key=hwid.hex(), hwid=hwid, tcb=tcb, product=product)
    raise AttestationError(
        f"{evidence_type.value} evidence takes no fetched collateral", code=ATTEST_COLLATERAL
    )


@dataclass(frozen=True)
class BundleEntry:
    """One evidence type and key's collateral (see the module docs)."""

    type: EvidenceType
    key: str
    collateral: bytes
    issued_at: int | None = None
    next_update: int | None = None


def dump_bundle(entries: list[BundleEntry], *, created_at: int) -> bytes:
    """The bundle file's bytes."""
    document = {
        "version": 1,
        "kind": BUNDLE_KIND,
        "created_at": created_at,
        "entries": [
            {
                "type": entry.type.value,
                "key": entry.key,
                "collateral": base64.b64encode(entry.collateral).decode("ascii"),
                "issued_at": entry.issued_at,
                "next_update": entry.next_update,
            }
            for entry in entries
        ],
    }
    return json.dumps(document, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def _entry(item: Any) -> BundleEntry:
    if not isinstance(item, dict) or set(item) != {"type", "key", "collateral", "issued_at", "next_update"}:
        raise ValueError("entry keys")
    if not isinstance(item["key"], str) or not isinstance(item["collateral"], str):
        raise ValueError("entry values")
    dates = [item["issued_at"], item["next_update"]]
    if not all(date is None or (isinstance(date, int) and not isinstance(date, bool)) for date in dates):
        raise ValueError("entry dates")
    return BundleEntry(
        type=EvidenceType.parse(item["type"]),
        key=item["key"],
        collateral=base64.b64decode(item["collateral"], validate=True),
        issued_at=item["issued_at"],
        next_update=item["next_update"],
    )


def parse_bundle(data: bytes) -> list[BundleEntry]:
    """Read a bundle file.

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` if it is not a version-1 bundle.
    """
    try:
        if len(data) > _MAX_BUNDLE_BYTES:
            raise ValueError("too large")
        document = json.loads(data)
        if (
            not isinstance(document, dict)
            or document.get("kind") != BUNDLE_KIND
            or document.get("version") != 1
        ):
            raise ValueError("kind")
        entries = document["entries"]
        if not isinstance(entries, list):
            raise ValueError("entries")
        return [_entry(item) for item in entries]
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error, AttestationError):
        raise AttestationError(
            "not a sealrun collateral bundle (version 1)", code=ATTEST_COLLATERAL
        ) from None


def select_collateral(entries: list[BundleEntry], evidence: Evidence) -> bytes:
    """The collateral in ``entries`` for ``evidence`` (by type and FMSPC / chip id).

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` (the evidence does not parse) or
            ``ATTEST_COLLATERAL`` (the bundle holds nothing for it).
    """
    key = collateral_request(evidence.type, evidence.payload).key
    for entry in reversed(entries):
        if entry.type is evidence.type and entry.key == key:
            return entry.collateral
    raise AttestationError(
        f"the bundle holds no {evidence.type.value} collateral for {key}", code=ATTEST_COLLATERAL
    )
