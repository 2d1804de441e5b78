"""Normalised claims: what a verifier vouches for, the same shape for every evidence type.

Only verifiers mint claims: :class:`Claims` has no public constructor (building one directly
raises ``TypeError``), so holding a ``Claims`` means some verifier checked the evidence. The
policy (:mod:`sealrun.core.attestation.policy`) appraises claims; it never sees raw evidence.

Per type (``docs/attestation.md`` has the full table):

==============  ==============  ===========  ==============  ==========  =========================
type            measurement     signer       product_id      svn         tcb_status
==============  ==============  ===========  ==============  ==========  =========================
``sgx-dcap``    MRENCLAVE       MRSIGNER     ISVPRODID       ISVSVN      Intel's (dcap-qvl)
``tdx-dcap``    MRTD            None         None            None        Intel's (dcap-qvl)
``sev-snp``     MEASUREMENT     None         None            GUEST_SVN   ``Unappraised``
``nitro``       PCR0            None         None            None        ``Unappraised``
``simulated``   as signed       as signed    as signed       as signed   as signed
==============  ==============  ===========  ==============  ==========  =========================

``Unappraised`` means the vendor publishes no TCB status for that evidence type, so no one
appraised it; a policy must name it explicitly to accept such evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypedDict

from sealrun.core.attestation.evidence import EvidenceType

__all__ = ["TCB_UNAPPRAISED", "TCB_UP_TO_DATE", "Claims", "ClaimsDocument", "ExtraJson", "ExtraValue"]

TCB_UP_TO_DATE = "UpToDate"
TCB_UNAPPRAISED = "Unappraised"

# Extra registers are type-specific (RTMRs, PCRs, FMSPC, chip id...): bytes, numbers, text,
# or a small mapping of numbers (the SNP reported TCB).
ExtraValue = bytes | int | str | bool | Mapping[str, int]
# The same in JSON: bytes as lowercase hex, the mapping as a dict.
ExtraJson = int | str | bool | dict[str, int]

_MINT = object()


class ClaimsDocument(TypedDict):
    """:meth:`Claims.to_dict`: the claims as JSON (bytes as lowercase hex, no ``0x``)."""

    tee: str
    measurement: str
    signer: str | None
    product_id: int | None
    svn: int | None
    debug: bool
    tcb_status: str
    advisories: list[str]
    report_data: str
    extra: dict[str, ExtraJson]
    simulated: bool


@dataclass(frozen=True, kw_only=True)
class Claims:
    """Verified, normalised claims about one enclave (minted only by verifiers).

    Attributes:
        tee: the evidence type these claims came from.
        measurement: the code identity (MRENCLAVE, MRTD, SNP MEASUREMENT, PCR0, or simulated).
        signer: the code signer's identity (MRSIGNER) where the TEE has one, else None.
        product_id: the product id (ISVPRODID) where the TEE has one, else None.
        svn: the security version number (ISVSVN, GUEST_SVN) where the TEE has one, else None.
        debug: whether the enclave runs in debug mode (its memory is readable by the host).
        tcb_status: the platform TCB status (Intel's strings, or ``Unappraised``).
        advisories: the security advisory ids that apply to the platform (sorted).
        report_data: the report data the enclave bound into the evidence.
        extra: type-specific registers (read-only mapping; bytes values are raw).
        simulated: True only for simulated evidence: never a real TEE.
    """

    tee: EvidenceType
    measurement: bytes
    signer: bytes | None
    product_id: int | None
    svn: int | None
    debug: bool
    tcb_status: str
    advisories: tuple[str, ...]
    report_data: bytes
    extra: Mapping[str, ExtraValue]
    simulated: bool
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _MINT:
            raise TypeError("Claims are minted by verifiers only; call a verifier's verify()")

    def to_dict(self) -> ClaimsDocument:
        """A JSON-ready view: bytes as lowercase hex (no ``0x``), mappings as dicts."""
        return {
            "tee": self.tee.value,
            "measurement": self.measurement.hex(),
            "signer": None if self.signer is None else self.signer.hex(),
            "product_id": self.product_id,
            "svn": self.svn,
            "debug": self.debug,
            "tcb_status": self.tcb_status,
            "advisories": list(self.advisories),
            "report_data": self.report_data.hex(),
            "extra": {key: _jsonable(value) for key, value in sorted(self.extra.items())},
            "simulated": self.simulated,
        }


def _jsonable(value: ExtraValue) -> ExtraJson:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _mint_claims(
    *,
    tee: EvidenceType,
    measurement: bytes,
    signer: bytes | None,
    product_id: int | None,
    svn: int | None,
    debug: bool,
    tcb_status: str,
    advisories: tuple[str, ...] | list[str],
    report_data: bytes,
    extra: Mapping[str, ExtraValue],
    simulated: bool,
) -> Claims:
    """Mint claims. For the verifiers of this package only (hence private)."""
    frozen_extra = {
        key: MappingProxyType(dict(value)) if isinstance(value, Mapping) else value
        for key, value in extra.items()
    }
    return Claims(
        tee=tee,
        measurement=measurement,
        signer=signer,
        product_id=product_id,
        svn=svn,
        debug=debug,
        tcb_status=tcb_status,
        advisories=tuple(sorted(advisories)),
        report_data=report_data,
        extra=MappingProxyType(frozen_extra),
        simulated=simulated,
        _token=_MINT,
    )
