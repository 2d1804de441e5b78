"""Attestation: evidence, one verifier per evidence type, normalised claims, policy, binding.

Pure: no network, disk or clock; every verifier takes ``now`` (UNIX seconds). Error codes are
in :mod:`sealrun.core.attestation.codes`; ``docs/attestation.md`` documents the formats, the
claims of each type and the policy semantics.
"""

from sealrun.core.attestation.claims import TCB_UNAPPRAISED, TCB_UP_TO_DATE, Claims
from sealrun.core.attestation.evidence import Evidence, EvidenceType, decode_evidence_text
from sealrun.core.attestation.report_data import REPORT_DATA_SIZE, report_data_for, verify_report_data
from sealrun.core.attestation.simulated import (
    SimulatedVerifier,
    SimulatorKey,
    SimulatorPublicKey,
    make_simulated_evidence,
)

__all__ = [
    "REPORT_DATA_SIZE",
    "TCB_UNAPPRAISED",
    "TCB_UP_TO_DATE",
    "Claims",
    "Evidence",
    "EvidenceType",
    "SimulatedVerifier",
    "SimulatorKey",
    "SimulatorPublicKey",
    "decode_evidence_text",
    "make_simulated_evidence",
    "report_data_for",
    "verify_report_data",
]
