"""Attested sessions (isolation mode ``session``, decision 0080): opening them, keeping them.

A session enclave attests once per boot (:mod:`sealrun.core.releases.sessions` for the
report data). :class:`SessionOpener` consumes a session nonce, verifies the evidence with
the verifier of its declared type, checks that the report data binds the nonce, the session
key, the worker and the app's isolation requirement, and appraises the claims under the
deployment's policy (types, debug, TCB; the app's fingerprint is pinned later, per task, at
each release). Every opening and every refusal is audited (event ``session``).

Sessions live in this process's memory (:class:`SessionTable`) and never in the database: an
SMS restart drops them all, and the enclave, refused ``RELEASE_SESSION_UNKNOWN``, attests
again. Several SMS processes behind one address each know only their own sessions; the
enclave then re-attests to whichever answers (documented in docs/sms.md).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sealrun.api.ids import bytes32_hex
from sealrun.core.attestation import EvidenceType
from sealrun.core.releases import (
    AttestationPolicy,
    AttestedSession,
    EvidenceVerifier,
    Refusal,
    SessionOpening,
    appraise_session,
)
from sealrun.core.releases.sessions import SESSION_ID_SIZE
from sealrun.errors import ReleaseError, SealrunError
from sealrun.services.sms.audit import AuditFacts
from sealrun.services.sms.repository import SmsRepository

__all__ = ["SESSION_NONCE_SUBJECT", "SessionOpener", "SessionRequest", "SessionTable"]

log = logging.getLogger(__name__)

#: Session nonces share the nonce ledger with task nonces, under a subject that is no task's
#: id (a task id is a keccak of its deal and index; the task nonce route checks the task is live).
SESSION_NONCE_SUBJECT = "0x" + hashlib.sha256(b"sealrun-session-nonce").hexdigest()


@dataclass(frozen=True)
class SessionRequest:
    """What a session enclave presents to open a session."""

    nonce: bytes
    worker: str
    signer: str
    requires_strict: bool
    evidence: str


class SessionTable:
    """Open sessions, in memory, bounded; each with the last sequence number it used.

    Args:
        capacity: the most sessions kept at once; past it, the expired go first, then the
            oldest (its enclave re-attests when refused ``RELEASE_SESSION_UNKNOWN``).
    """

    def __init__(self, *, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._sessions: dict[bytes, AttestedSession] = {}
        self._sequences: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def add(self, session: AttestedSession, *, now: int) -> None:
        """Keep ``session`` (dropping expired sessions, then the oldest, past the capacity)."""
        with self._lock:
            if len(self._sessions) >= self._capacity:
                for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
                    self._drop(key)
            while len(self._sessions) >= self._capacity:
                self._drop(next(iter(self._sessions)))
            self._sessions[session.session_id] = session
            self._sequences[session.session_id] = 0

    def _drop(self, key: bytes) -> None:
        self._sessions.pop(key, None)
        self._sequences.pop(key, None)

    def get(self, session_id: bytes) -> AttestedSession:
        """The open session ``session_id`` (expired or not: expiry is the decision's).

        Raises:
            ReleaseError: ``RELEASE_SESSION_UNKNOWN``.
        """
        with self._lock:
            found = self._sessions.get(session_id)
        if found is None:
            raise ReleaseError("this SMS has no such session: attest again", code="RELEASE_SESSION_UNKNOWN")
        return found

    def use_sequence(self, session_id: bytes, check: Callable[[int], None], sequence: int) -> None:
        """Run ``check(last_sequence)`` and, if it passes, record ``sequence`` (atomically).

        Raises:
            ReleaseError: ``RELEASE_SESSION_UNKNOWN``, or what ``check`` raises.
        """
        with self._lock:
            last = self._sequences.get(session_id)
            if last is None:
                raise ReleaseError(
                    "this SMS has no such session: attest again", code="RELEASE_SESSION_UNKNOWN"
                )
            check(last)
            self._sequences[session_id] = sequence

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


class SessionOpener:
    """Opens attested sessions; collaborators come through the constructor.

    Args:
        ttl: seconds a session lives (its attestation is not trusted past it).
    """

    def __init__(
        self,
        *,
        repository: SmsRepository,
        table: SessionTable,
        verifiers: Mapping[EvidenceType, EvidenceVerifier],
        policy: AttestationPolicy,
        clock: Callable[[], int],
        random: Callable[[int], bytes],
        ttl: int,
    ) -> None:
        self._repository = repository
        self._table = table
        self._verifiers = dict(verifiers)
        self._policy = policy
        self._clock = clock
        self._random = random
        self._ttl = ttl

    def open(self, request: SessionRequest) -> AttestedSession:
        """Verify the session's evidence and open it; audit the outcome.

        Raises:
            ReleaseError: ``RELEASE_NONCE_*`` (the session nonce).
            AttestationError: ``ATTEST_*`` (the evidence, its report data, the policy).
        """
        now = self._clock()
        facts = AuditFacts(event="session", code="SESSION_OPENED", detail="", worker=request.worker)
        try:
            self._repository.consume_nonce(bytes32_hex(request.nonce), SESSION_NONCE_SUBJECT, now)
        except SealrunError as error:
            self._audit(replace(facts, event="refusal", code=error.code, detail=f"session: {error.message}"))
            raise
        opening = SessionOpening(
            nonce=request.nonce, worker=request.worker, signer=request.signer,
            requires_strict=request.requires_strict, evidence=request.evidence, now=now,
            session_id=self._random(SESSION_ID_SIZE), ttl=self._ttl,
        )  # fmt: skip
        session = appraise_session(opening, verifiers=self._verifiers, policy=self._policy)
        if isinstance(session, Refusal):
            if session.claims is not None:
                facts = replace(
                    facts, tee=session.claims.tee.value, measurement=session.claims.measurement.hex()
                )
            refused = session.error()
            self._audit(
                replace(
                    facts,
                    event="refusal",
                    code=session.code,
                    detail=f"session attestation: {session.message}",
                )
            )
            raise refused
        facts = replace(facts, tee=session.claims.tee.value, measurement=session.claims.measurement.hex())
        self._table.add(session, now=now)
        strict = ", the app requires strict" if request.requires_strict else ""
        self._audit(
            replace(
                facts, detail=f"isolation session {session.hex_id} opened until {session.expires_at}{strict}"
            )
        )
        return session

    def issue_nonce(self, ttl: int) -> tuple[bytes, int]:
        """A single-use session nonce and its expiry."""
        nonce = self._random(32)
        expires_at = self._clock() + ttl
        self._repository.issue_nonce(bytes32_hex(nonce), SESSION_NONCE_SUBJECT, expires_at)
        return nonce, expires_at

    def _audit(self, facts: AuditFacts) -> None:
        self._repository.append_audit(facts, self._clock())
        log.info("audit %s %s: %s", facts.event, facts.code, facts.detail)
