"""Attestation: evidence, one verifier per evidence type, normalised claims, policy, binding.

Pure: no network, disk or clock; every verifier takes ``now`` (UNIX seconds). Error codes are
in :mod:`sealrun.core.attestation.codes`; ``docs/attestation.md`` documents the formats, the
claims of each type and the policy semantics.

Typical SMS use::

    verifier = standard_verifier(simulator_public_key=key_or_none)
    claims = verifier.verify(Evidence.from_json(body), now=now)
    verify_report_data(claims, nonce=nonce, ephemeral_public_key=pubkey, task_id=task_id)
    policy.appraise(claims)
"""

from sealrun.core.attestation.claims import TCB_UNAPPRAISED, TCB_UP_TO_DATE, Claims
from sealrun.core.attestation.cvm import ConfidentialVmVerifier
from sealrun.core.attestation.dcap import SgxDcapVerifier, TdxDcapVerifier
from sealrun.core.attestation.eventlog import APP_EVENT_NAME, EventLog, RuntimeEvent, app_fingerprint_from_log
from sealrun.core.attestation.evidence import Evidence, EvidenceType, decode_evidence_text
from sealrun.core.attestation.imagepolicy import TrustedImage, TrustedImages
from sealrun.core.attestation.nitro import NitroVerifier
from sealrun.core.attestation.policy import Policy, PolicyVerdict
from sealrun.core.attestation.report_data import (
    REPORT_DATA_SIZE,
    report_data_for,
    session_report_data,
    verify_report_data,
    verify_session_report_data,
)
from sealrun.core.attestation.roots import PinnedCertificate
from sealrun.core.attestation.simulated import (
    SimulatedVerifier,
    SimulatorKey,
    SimulatorPublicKey,
    make_simulated_evidence,
)
from sealrun.core.attestation.snp import SevSnpVerifier
from sealrun.core.attestation.verifier import EvidenceVerifier, Verifier, standard_verifier

__all__ = [
    "APP_EVENT_NAME",
    "REPORT_DATA_SIZE",
    "TCB_UNAPPRAISED",
    "TCB_UP_TO_DATE",
    "Claims",
    "ConfidentialVmVerifier",
    "EventLog",
    "Evidence",
    "EvidenceType",
    "EvidenceVerifier",
    "NitroVerifier",
    "PinnedCertificate",
    "Policy",
    "PolicyVerdict",
    "RuntimeEvent",
    "SevSnpVerifier",
    "SgxDcapVerifier",
    "SimulatedVerifier",
    "SimulatorKey",
    "SimulatorPublicKey",
    "TdxDcapVerifier",
    "TrustedImage",
    "TrustedImages",
    "Verifier",
    "app_fingerprint_from_log",
    "decode_evidence_text",
    "make_simulated_evidence",
    "report_data_for",
    "session_report_data",
    "standard_verifier",
    "verify_report_data",
    "verify_session_report_data",
]
