"""The release decision with confidential-VM evidence: the app fingerprint from RTMR3's log.

The SMS compares the claims' measurement with the app's on-chain fingerprint; in
confidential-VM mode that measurement is the fingerprint the replayed event log records, so the
decision needs no change (the hardware verifier is a register double: see tests/attestation).
"""

from __future__ import annotations

import json
from dataclasses import replace

from sealrun.core.attestation import (
    APP_EVENT_NAME,
    ConfidentialVmVerifier,
    EventLog,
    Evidence,
    EvidenceType,
    RuntimeEvent,
    TrustedImages,
    report_data_for,
)
from sealrun.core.releases import Refusal, ReleaseFacts, ReleaseVerdict, appraise_release
from sealrun.services.sms.appraisal import ChainPinnedPolicy, base_policy
from tests.attestation.cvm_doubles import RegistersVerifier
from tests.releases.test_appraisal import ENCLAVE_KEY, FACTS, FINGERPRINT, NONCE, TASK

MR_TD, RTMR0, RTMR1, RTMR2 = (bytes([n]) * 48 for n in (0xB0, 0xB1, 0xB2, 0xB3))
IMAGES = TrustedImages.from_text(
    json.dumps(
        {
            "version": 1,
            "images": [
                {
                    "name": "base",
                    "tee": "tdx-dcap",
                    "mr_td": MR_TD.hex(),
                    "rtmr0": RTMR0.hex(),
                    "rtmr1": RTMR1.hex(),
                    "rtmr2": RTMR2.hex(),
                }
            ],
        }
    )
)
POLICY = ChainPinnedPolicy(
    base_policy(
        allowed_tee_types=frozenset({EvidenceType.TDX_DCAP}), accepted_tcb_statuses=frozenset({"UpToDate"})
    )
)
LOG = EventLog(
    (RuntimeEvent.measure("sealrun.boot", b"1"), RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT))
)


def _appraise(log: EventLog, *, rtmr3: bytes | None = None) -> ReleaseVerdict | Refusal:
    registers = {
        "rtmr0": RTMR0,
        "rtmr1": RTMR1,
        "rtmr2": RTMR2,
        "rtmr3": LOG.replay() if rtmr3 is None else rtmr3,
    }
    verifier = ConfidentialVmVerifier(RegistersVerifier(EvidenceType.TDX_DCAP, MR_TD, registers), IMAGES)
    report_data = report_data_for(NONCE, ENCLAVE_KEY.recipient.public_bytes, TASK)
    evidence = Evidence(EvidenceType.TDX_DCAP, report_data, None, log.to_json()).to_json()
    facts: ReleaseFacts = replace(FACTS, request=replace(FACTS.request, evidence=evidence))
    return appraise_release(facts, verifiers={EvidenceType.TDX_DCAP: verifier}, policy=POLICY)


def test_a_confidential_vm_running_the_registered_app_gets_its_secrets() -> None:
    answer = _appraise(LOG)
    assert isinstance(answer, ReleaseVerdict), answer
    assert answer.failure is None
    assert answer.claims.measurement == FINGERPRINT
    assert answer.claims.extra["image"] == "base"


def test_a_confidential_vm_running_another_app_is_refused() -> None:
    other = EventLog((RuntimeEvent.measure(APP_EVENT_NAME, b"\x99" * 32),))
    answer = _appraise(other, rtmr3=other.replay())
    assert isinstance(answer, Refusal)
    assert answer.code == "ATTEST_POLICY_MEASUREMENT"


def test_a_log_that_claims_the_app_without_replaying_is_refused() -> None:
    liar = EventLog((RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT),))  # RTMR3 says otherwise
    answer = _appraise(liar)
    assert isinstance(answer, Refusal)
    assert answer.code == "ATTEST_EVENTLOG_REPLAY"
