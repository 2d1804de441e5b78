"""Confidential-VM mode: the app's fingerprint from RTMR3's event log (TDX) or HOST_DATA (SEV-SNP).

A confidential VM's hardware measurement is its *base image*, the same for every app, so it
cannot be the app's identity. :class:`ConfidentialVmVerifier` wraps the hardware verifier of
``tdx-dcap`` or ``sev-snp`` evidence and, after it verified the evidence:

* **TDX**: parses the envelope's event log first (a malformed log is refused before any
  cryptography), verifies the quote, matches MRTD and RTMR0-2 with a trusted image
  (:mod:`~sealrun.core.attestation.imagepolicy`), replays the log and checks it reproduces the
  quote's RTMR3, and takes the app fingerprint from the log's one app event
  (:mod:`~sealrun.core.attestation.eventlog`);
* **SEV-SNP**: verifies the report, matches the launch MEASUREMENT with a trusted image, and
  takes the app fingerprint from HOST_DATA (32 bytes, set by the host at launch and covered by
  the report's signature). An envelope with an event log is refused: nothing would replay it.

It mints claims whose ``measurement`` is the app fingerprint, so the SMS's one comparison
(claims' measurement = the app's on-chain fingerprint) holds for every TEE unchanged; the base
image's register stays in ``extra["base_measurement"]``, its name in ``extra["image"]``, and
``extra["app_fingerprint_source"]`` says where the fingerprint came from (``rtmr3-event-log``
or ``host-data``). Everything else (TCB status, advisories, report data, debug) is the hardware
verifier's, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sealrun.core.attestation.claims import Claims, ExtraValue, _mint_claims
from sealrun.core.attestation.codes import (
    ATTEST_EVENTLOG_MALFORMED,
    ATTEST_EVENTLOG_MISSING,
    ATTEST_MALFORMED,
    ATTEST_TYPE_MISMATCH,
)
from sealrun.core.attestation.eventlog import EventLog, app_fingerprint_from_log
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.imagepolicy import TrustedImages
from sealrun.errors import AttestationError

__all__ = ["CVM_TYPES", "SOURCE_EVENT_LOG", "SOURCE_HOST_DATA", "ConfidentialVmVerifier"]

CVM_TYPES = frozenset({EvidenceType.TDX_DCAP, EvidenceType.SEV_SNP})
SOURCE_EVENT_LOG = "rtmr3-event-log"
SOURCE_HOST_DATA = "host-data"


class _HardwareVerifier(Protocol):
    """The verifier wrapped (``verifier.Verifier``'s shape; not imported: that module imports this one)."""

    @property
    def evidence_type(self) -> EvidenceType:
        """The only evidence type it accepts."""
        ...

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify and mint claims, or raise ``AttestationError``."""
        ...


def _register(claims: Claims, name: str, size: int) -> bytes:
    value = claims.extra.get(name)
    if not isinstance(value, bytes) or len(value) != size:
        raise AttestationError(f"the verified claims carry no {size}-byte {name}", code=ATTEST_MALFORMED)
    return value


@dataclass(frozen=True)
class ConfidentialVmVerifier:
    """A ``tdx-dcap`` or ``sev-snp`` verifier whose claims' measurement is the app's fingerprint.

    Args:
        inner: the hardware verifier (``TdxDcapVerifier`` or ``SevSnpVerifier``).
        images: the trusted base images.

    Raises:
        ValueError: if ``inner`` verifies another evidence type.
    """

    inner: _HardwareVerifier
    images: TrustedImages

    def __post_init__(self) -> None:
        if self.inner.evidence_type not in CVM_TYPES:
            raise ValueError(f"confidential-VM mode has no meaning for {self.inner.evidence_type.value}")

    @property
    def evidence_type(self) -> EvidenceType:
        """The inner verifier's type."""
        return self.inner.evidence_type

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify the evidence, its base image and its app measurement; mint the app's claims.

        Raises:
            AttestationError: the inner verifier's codes, ``ATTEST_TYPE_MISMATCH``,
                ``ATTEST_EVENTLOG_MISSING``, ``ATTEST_EVENTLOG_MALFORMED``,
                ``ATTEST_EVENTLOG_REPLAY``, ``ATTEST_EVENTLOG_APP_EVENT`` or
                ``ATTEST_IMAGE_UNTRUSTED``.
        """
        if evidence.type is not self.evidence_type:
            raise AttestationError(
                f"the {self.evidence_type.value} verifier does not take {evidence.type.value} evidence",
                code=ATTEST_TYPE_MISMATCH,
            )
        if self.evidence_type is EvidenceType.TDX_DCAP:
            if evidence.event_log is None:
                raise AttestationError(
                    "tdx-dcap confidential-VM evidence needs its RTMR3 event log",
                    code=ATTEST_EVENTLOG_MISSING,
                )
            log = EventLog.from_json(evidence.event_log)  # refused before any cryptography
            claims = self.inner.verify(evidence, now=now)
            registers = {name: _register(claims, name, 48) for name in ("rtmr0", "rtmr1", "rtmr2", "rtmr3")}
            image = self.images.match(EvidenceType.TDX_DCAP, {"mr_td": claims.measurement, **registers})
            fingerprint = app_fingerprint_from_log(log, rtmr3=registers["rtmr3"])
            extra: dict[str, ExtraValue] = {"event_log_events": len(log.events)}
            source = SOURCE_EVENT_LOG
        else:
            if evidence.event_log is not None:
                raise AttestationError(
                    "sev-snp evidence carries no event log (the app fingerprint is HOST_DATA)",
                    code=ATTEST_EVENTLOG_MALFORMED,
                )
            claims = self.inner.verify(evidence, now=now)
            image = self.images.match(EvidenceType.SEV_SNP, {"measurement": claims.measurement})
            fingerprint = _register(claims, "host_data", 32)
            extra = {}
            source = SOURCE_HOST_DATA
        extra["base_measurement"] = claims.measurement
        extra["image"] = image.name
        extra["app_fingerprint_source"] = source
        return _mint_claims(
            tee=claims.tee,
            measurement=fingerprint,
            signer=claims.signer,
            product_id=claims.product_id,
            svn=claims.svn,
            debug=claims.debug,
            tcb_status=claims.tcb_status,
            advisories=claims.advisories,
            report_data=claims.report_data,
            extra={**claims.extra, **extra},
            simulated=claims.simulated,
        )
