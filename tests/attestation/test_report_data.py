"""Report-data binding (SYSTEM.md §5): known answer, every input matters, all 64 bytes compared."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.attestation import (
    Claims,
    SimulatedVerifier,
    SimulatorKey,
    make_simulated_evidence,
    report_data_for,
    verify_report_data,
)
from sealrun.errors import AttestationError

NONCE, PUBKEY, TASK = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32
KEY = SimulatorKey.from_private_bytes(b"\x01" * 32)


def test_known_answer_matches_the_documented_preimage() -> None:
    expected = hashlib.sha512(b"sealrun-sms-v1\0" + NONCE + hashlib.sha256(PUBKEY).digest() + TASK).digest()
    assert report_data_for(NONCE, PUBKEY, TASK) == expected
    assert len(expected) == 64


def _claims_with(report_data: bytes) -> Claims:
    evidence = make_simulated_evidence(KEY, measurement=b"\x01" * 32, report_data=report_data)
    return SimulatedVerifier(KEY.public_key).verify(evidence, now=0)


def test_binding_accepts_the_exact_inputs() -> None:
    claims = _claims_with(report_data_for(NONCE, PUBKEY, TASK))
    assert verify_report_data(claims, nonce=NONCE, ephemeral_public_key=PUBKEY, task_id=TASK) is claims


@pytest.mark.parametrize("which", ["nonce", "key", "task"])
def test_binding_refuses_any_other_input(which: str) -> None:
    claims = _claims_with(report_data_for(NONCE, PUBKEY, TASK))
    other = b"\x44" * 32
    arguments = {
        "nonce": other if which == "nonce" else NONCE,
        "ephemeral_public_key": other if which == "key" else PUBKEY,
        "task_id": other if which == "task" else TASK,
    }
    with pytest.raises(AttestationError) as caught:
        verify_report_data(claims, **arguments)
    assert caught.value.code == "ATTEST_REPORT_DATA_MISMATCH"


@given(st.integers(min_value=0, max_value=63), st.integers(min_value=0, max_value=7))
def test_a_flip_in_any_of_the_64_bytes_is_refused(index: int, bit: int) -> None:
    good = bytearray(report_data_for(NONCE, PUBKEY, TASK))
    good[index] ^= 1 << bit
    claims = _claims_with(bytes(good))
    with pytest.raises(AttestationError):
        verify_report_data(claims, nonce=NONCE, ephemeral_public_key=PUBKEY, task_id=TASK)


@pytest.mark.parametrize(
    ("nonce", "pubkey", "task"),
    [
        (b"", PUBKEY, TASK),
        (NONCE, b"\x22" * 31, TASK),
        (NONCE, PUBKEY, b"\x33" * 33),
        (b"\x00" * 1025, PUBKEY, TASK),
    ],
)
def test_wrong_sizes_are_refused(nonce: bytes, pubkey: bytes, task: bytes) -> None:
    with pytest.raises(AttestationError) as caught:
        report_data_for(nonce, pubkey, task)
    assert caught.value.code == "ATTEST_REPORT_DATA_MISMATCH"
