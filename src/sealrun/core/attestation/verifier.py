"""Choosing the verifier: by the evidence's declared type only, never by guessing, never falling back.

:class:`EvidenceVerifier` holds at most one verifier per :class:`EvidenceType`. Its
:meth:`~EvidenceVerifier.verify` looks up ``evidence.type`` and calls that verifier; a type
without a verifier is ``ATTEST_UNKNOWN_TYPE``. :func:`standard_verifier` builds the four hardware
verifiers with the pinned roots; simulated evidence is verifiable only when the caller also
passes an explicit simulator public key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from sealrun.core.attestation.claims import Claims
from sealrun.core.attestation.codes import ATTEST_UNKNOWN_TYPE
from sealrun.core.attestation.cvm import CVM_TYPES, ConfidentialVmVerifier
from sealrun.core.attestation.dcap import SgxDcapVerifier, TdxDcapVerifier
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.imagepolicy import TrustedImages
from sealrun.core.attestation.nitro import NitroVerifier
from sealrun.core.attestation.simulated import SimulatedVerifier, SimulatorPublicKey
from sealrun.core.attestation.snp import SevSnpVerifier
from sealrun.errors import AttestationError

__all__ = ["EvidenceVerifier", "Verifier", "standard_verifier"]


class Verifier(Protocol):
    """One evidence type's verifier: returns minted claims or raises ``AttestationError``."""

    @property
    def evidence_type(self) -> EvidenceType:
        """The only evidence type this verifier accepts."""
        ...

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify ``evidence`` at ``now`` (UNIX seconds) and mint its claims."""
        ...


class EvidenceVerifier:
    """Dispatches evidence to the one verifier registered for its declared type.

    Args:
        verifiers: at most one verifier per evidence type.

    Raises:
        ValueError: if two verifiers claim the same type.
    """

    def __init__(self, verifiers: Iterable[Verifier]) -> None:
        table: dict[EvidenceType, Verifier] = {}
        for verifier in verifiers:
            if verifier.evidence_type in table:
                raise ValueError(f"two verifiers for {verifier.evidence_type.value}")
            table[verifier.evidence_type] = verifier
        self._table: Mapping[EvidenceType, Verifier] = MappingProxyType(table)

    @property
    def types(self) -> frozenset[EvidenceType]:
        """The evidence types this instance can verify."""
        return frozenset(self._table)

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify ``evidence`` with the verifier of its declared type.

        Args:
            evidence: the evidence and its collateral.
            now: UNIX seconds (injected: the core never reads the clock).

        Returns:
            The verified claims.

        Raises:
            AttestationError: ``ATTEST_UNKNOWN_TYPE`` if no verifier is registered for the type;
                otherwise whatever that verifier raises.
        """
        verifier = self._table.get(evidence.type)
        if verifier is None:
            raise AttestationError(
                f"no verifier is configured for {evidence.type.value} evidence", code=ATTEST_UNKNOWN_TYPE
            )
        return verifier.verify(evidence, now=now)


def standard_verifier(
    *, simulator_public_key: SimulatorPublicKey | None = None, trusted_images: TrustedImages | None = None
) -> EvidenceVerifier:
    """The hardware verifiers (pinned roots), plus simulated only given an explicit key.

    Args:
        simulator_public_key: this deployment's simulator public key; without it, simulated
            evidence is ``ATTEST_UNKNOWN_TYPE``.
        trusted_images: confidential-VM mode: ``tdx-dcap`` and ``sev-snp`` evidence then
            yields the app's fingerprint (RTMR3 event log / HOST_DATA) on a trusted base image
            (:class:`~sealrun.core.attestation.cvm.ConfidentialVmVerifier`).

    Returns:
        An :class:`EvidenceVerifier` for ``sgx-dcap``, ``tdx-dcap``, ``sev-snp``, ``nitro`` (and
        ``simulated`` when a key is given).
    """
    verifiers: list[Verifier] = [SgxDcapVerifier(), TdxDcapVerifier(), SevSnpVerifier(), NitroVerifier()]
    if trusted_images is not None:
        verifiers = [
            ConfidentialVmVerifier(each, trusted_images) if each.evidence_type in CVM_TYPES else each
            for each in verifiers
        ]
    if simulator_public_key is not None:
        verifiers.append(SimulatedVerifier(simulator_public_key))
    return EvidenceVerifier(verifiers)
