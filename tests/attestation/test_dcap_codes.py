"""dcap-qvl's failure messages map to stable codes, revocation included (``ATTEST_REVOKED``).

dcap-qvl reports every failure as one ``ValueError``; ``dcap._classify`` turns its message
into a code. A revoked PCK certificate or a ``Revoked`` TCB level cannot be produced from
real evidence here (Intel signs the CRLs and the TCB info), so the mapping is tested on the
messages dcap-qvl 0.7.0 itself builds for those cases (found in its library: the anyhow
context "Failed to verify certificate chain" around webpki's ``CertRevoked``, and "TCB status
is invalid: Revoked"). The real vectors cover the other rows end to end (test_vectors.py).
"""

from __future__ import annotations

import pytest

from sealrun.core.attestation.dcap import _classify


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("TCB status is invalid: Revoked", "ATTEST_REVOKED"),
        ("Failed to verify certificate chain: CertRevoked", "ATTEST_REVOKED"),
        ("Failed to verify certificate chain: CertExpired { time: 1, not_after: 0 }", "ATTEST_EXPIRED"),
        ("Failed to verify certificate chain: UnknownIssuer", "ATTEST_UNTRUSTED_ROOT"),
        ("No matching TCB level found", "ATTEST_NO_MATCHING_TCB"),
        ("Debug mode is enabled", "ATTEST_DEBUG"),
        ("something dcap-qvl has never said", "ATTEST_SIGNATURE"),  # fails closed
    ],
)
def test_dcap_messages_map_to_their_codes(message: str, code: str) -> None:
    assert _classify(message) == code
