"""Isolation mode ``session`` in the pure decision (decision 0080): the mode is an explicit
input, a session is opened once, and each release over it keeps every per-task check."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.attestation import (
    SimulatedVerifier,
    SimulatorKey,
    make_simulated_evidence,
    session_report_data,
)
from sealrun.core.releases import (
    AttestedSession,
    Refusal,
    ReleaseFacts,
    ReleaseVerdict,
    SessionOpening,
    appraise_release,
    appraise_session,
    check_session_request,
    session_request_digest,
)
from sealrun.core.releases.sessions import SESSION_ID_SIZE
from sealrun.core.tasks import address_of, sign_digest
from sealrun.errors import SealrunError
from tests.releases.test_appraisal import (
    DEADLINE,
    FACTS,
    FINGERPRINT,
    POLICY,
    SIMULATOR,
    T0,
    TASK,
    VERIFIERS,
    WORKER,
)

SESSION_KEY = b"\x5e" * 32
SIGNER = address_of(SESSION_KEY)
NONCE = b"\x42" * 32
OTHER_APP = replace(FACTS.app, fingerprint=b"\x09" * 32) if FACTS.app else None


def _opening(**changes: object) -> SessionOpening:
    data = session_report_data(NONCE, signer=SIGNER, worker=WORKER, requires_strict=False)
    evidence = make_simulated_evidence(SIMULATOR, measurement=FINGERPRINT, report_data=data).to_json()
    values: dict[str, object] = {
        "nonce": NONCE, "worker": WORKER, "signer": SIGNER, "requires_strict": False, "evidence": evidence,
        "now": T0, "session_id": b"\x01" * 16, "ttl": 900,
    }  # fmt: skip
    values.update(changes)
    return SessionOpening(**values)  # type: ignore[arg-type]


def _session(**changes: object) -> AttestedSession:
    opened = appraise_session(_opening(), verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(opened, AttestedSession)
    return replace(opened, **changes)  # type: ignore[arg-type]


def in_session(session: AttestedSession | None = None, **changes: object) -> ReleaseFacts:
    """The default facts as a release over an open session (shared with the owner policy's tests)."""
    request = replace(FACTS.request, nonce=b"", evidence="")
    return replace(FACTS, request=request, isolation="session", session=session or _session(), **changes)  # type: ignore[arg-type]


def test_the_mode_is_an_explicit_input_and_defaults_to_strict() -> None:
    assert FACTS.isolation == "strict"
    assert FACTS.session is None
    assert isinstance(appraise_release(FACTS, verifiers=VERIFIERS, policy=POLICY), ReleaseVerdict)


def test_a_session_releases_with_every_per_task_check() -> None:
    verdict = appraise_release(in_session(), verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(verdict, ReleaseVerdict)
    assert verdict.failure is None
    assert verdict.claims.measurement == FINGERPRINT


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (lambda: in_session(now=T0 + 899), None),
        (lambda: in_session(now=T0 + 900), "RELEASE_SESSION_EXPIRED"),  # expired from expires_at on
        (lambda: in_session(now=T0 - 1), "RELEASE_SESSION_EXPIRED"),  # not yet opened
        (lambda: in_session(_session(requires_strict=True)), "RELEASE_ISOLATION_STRICT_REQUIRED"),
        (lambda: in_session(_session(worker="0x" + "cd" * 20)), "RELEASE_WORKER_UNAUTHORIZED"),
        (lambda: replace(in_session(), session=None), "RELEASE_SESSION_UNKNOWN"),
        (lambda: replace(in_session(), enclave_challenge=None), "RELEASE_NO_ENCLAVE_CHALLENGE"),
        (lambda: replace(in_session(), app=OTHER_APP), "ATTEST_POLICY_MEASUREMENT"),
    ],
)  # fmt: skip
def test_each_session_refusal(facts: object, code: str | None) -> None:
    answer = appraise_release(facts(), verifiers=VERIFIERS, policy=POLICY)  # type: ignore[operator]
    if code is None:
        assert isinstance(answer, ReleaseVerdict)
    else:
        assert isinstance(answer, Refusal)
        assert answer.code == code


def test_a_task_past_its_deadline_is_refused_in_session_mode() -> None:
    session = _session(opened_at=DEADLINE - 10, expires_at=DEADLINE + 900)
    answer = appraise_release(in_session(session, now=DEADLINE), verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(answer, Refusal)
    assert answer.code == "RELEASE_TASK_PAST_DEADLINE"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"worker": "0x" + "cd" * 20}, "ATTEST_REPORT_DATA_MISMATCH"),
        ({"requires_strict": True}, "ATTEST_REPORT_DATA_MISMATCH"),  # the requirement is bound
        ({"signer": address_of(b"\x01" * 32)}, "ATTEST_REPORT_DATA_MISMATCH"),
        ({"nonce": b"\x43" * 32}, "ATTEST_REPORT_DATA_MISMATCH"),
        ({"evidence": "{}"}, "ATTEST_MALFORMED"),
    ],
)
def test_opening_a_session_checks_what_its_evidence_binds(changes: dict[str, object], code: str) -> None:
    answer = appraise_session(_opening(**changes), verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(answer, Refusal)
    assert answer.code == code


def test_opening_refuses_an_evidence_type_it_does_not_accept() -> None:
    answer = appraise_session(_opening(), verifiers={}, policy=POLICY)
    assert isinstance(answer, Refusal)
    assert answer.code == "ATTEST_POLICY_TEE_TYPE"


def test_opening_refuses_another_simulator() -> None:
    other = {key: SimulatedVerifier(SimulatorKey.generate().public_key) for key in VERIFIERS}
    answer = appraise_session(_opening(), verifiers=other, policy=POLICY)
    assert isinstance(answer, Refusal)
    assert answer.code.startswith("ATTEST_")


def test_an_opened_session_lives_for_its_ttl() -> None:
    session = _session()
    assert (session.opened_at, session.expires_at, session.hex_id) == (T0, T0 + 900, "0x" + "01" * 16)


def _signed(sequence: int, key: bytes = SESSION_KEY, recipient: str = "age1x") -> bytes:
    return sign_digest(key, session_request_digest(b"\x01" * 16, TASK, recipient, sequence))


def test_a_session_request_is_signed_by_the_session_key_and_never_replayed() -> None:
    session = _session()
    check = {"task_id": TASK, "worker": WORKER, "ephemeral_recipient": "age1x"}
    check_session_request(session, sequence=3, last_sequence=2, signature=_signed(3), **check)  # type: ignore[arg-type]
    with pytest.raises(SealrunError) as replayed:
        check_session_request(session, sequence=2, last_sequence=2, signature=_signed(2), **check)  # type: ignore[arg-type]
    assert replayed.value.code == "RELEASE_SESSION_REPLAYED"
    for signature, changes in [
        (_signed(3, key=os.urandom(31) + b"\x01"), {}),
        (_signed(3, recipient="age1y"), {}),  # signed for another ephemeral key
        (_signed(3), {"worker": "0x" + "cd" * 20}),
        (b"\x00" * 65, {}),
    ]:
        with pytest.raises(SealrunError) as forged:
            check_session_request(
                session, sequence=3, last_sequence=2, signature=signature, **{**check, **changes}
            )  # type: ignore[arg-type]
        assert forged.value.code == "RELEASE_SESSION_SIGNATURE_INVALID"


@given(st.binary(min_size=1, max_size=64), st.booleans())
def test_session_report_data_binds_every_input(nonce: bytes, strict: bool) -> None:
    base = session_report_data(nonce, signer=SIGNER, worker=WORKER, requires_strict=strict)
    assert len(base) == 64
    assert base != session_report_data(nonce, signer=SIGNER, worker=WORKER, requires_strict=not strict)
    assert base != session_report_data(nonce + b"\x00", signer=SIGNER, worker=WORKER, requires_strict=strict)
    assert base != session_report_data(nonce, signer=WORKER, worker=SIGNER, requires_strict=strict)


@pytest.mark.parametrize(
    "bad", [{"nonce": b""}, {"nonce": b"\x00" * 1025}, {"signer": "0x12"}, {"worker": "nope"}]
)
def test_session_report_data_refuses_what_it_cannot_bind(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"nonce": NONCE, "signer": SIGNER, "worker": WORKER, "requires_strict": False}
    values.update(bad)
    nonce = values.pop("nonce")
    with pytest.raises(SealrunError) as caught:
        session_report_data(nonce, **values)  # type: ignore[arg-type]
    assert caught.value.code == "ATTEST_REPORT_DATA_MISMATCH"


def test_a_session_release_to_a_recipient_that_is_not_age_is_refused() -> None:
    facts = in_session()
    facts = replace(facts, request=replace(facts.request, ephemeral_recipient="not-an-age-recipient"))
    answer = appraise_release(facts, verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(answer, Refusal)
    assert answer.code == "ATTEST_REPORT_DATA_MISMATCH"


def test_sessions_and_openings_are_frozen_keyword_only_records() -> None:
    session = _session()
    with pytest.raises(AttributeError):
        session.expires_at = 0  # type: ignore[misc]
    with pytest.raises(TypeError):  # every field, but by position
        AttestedSession(*[getattr(session, name) for name in session.__dataclass_fields__])  # type: ignore[misc]
    opening = _opening()
    with pytest.raises(AttributeError):
        opening.now = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        SessionOpening(*[getattr(opening, name) for name in opening.__dataclass_fields__])  # type: ignore[misc]


def test_the_session_request_digest_has_a_known_answer() -> None:
    """sha256(domain ‖ session (16 B) ‖ task (32 B) ‖ sha256(recipient) ‖ sequence (8 B, big-endian))."""
    import hashlib

    body = (
        b"sealrun-session-release-v1\x00" + b"\x01" * 16 + TASK + hashlib.sha256(b"age1x").digest()
        + (7).to_bytes(8, "big")
    )  # fmt: skip
    assert session_request_digest(b"\x01" * 16, TASK, "age1x", 7) == hashlib.sha256(body).digest()
    assert SESSION_ID_SIZE == 16  # the SMS API's session id: 0x + 32 hex digits


@pytest.mark.parametrize("sequence", [0, -1, True, 2**63])
def test_a_sequence_outside_1_to_2_63_minus_1_is_refused(sequence: int) -> None:
    session = _session()
    with pytest.raises(SealrunError) as caught:
        check_session_request(
            session, task_id=TASK, worker=WORKER, ephemeral_recipient="age1x", sequence=sequence,
            last_sequence=-5, signature=_signed(sequence if sequence >= 0 else 1),
        )  # fmt: skip
    assert caught.value.code == "RELEASE_SESSION_SIGNATURE_INVALID"


def test_the_smallest_and_the_largest_sequences_are_accepted() -> None:
    check_session_request(
        _session(), task_id=TASK, worker=WORKER, ephemeral_recipient="age1x", sequence=1,
        last_sequence=0, signature=_signed(1),
    )  # fmt: skip
    largest = 2**63 - 1
    check_session_request(
        _session(), task_id=TASK, worker=WORKER, ephemeral_recipient="age1x", sequence=largest,
        last_sequence=largest - 1, signature=_signed(largest),
    )  # fmt: skip
