"""Attested sessions (isolation mode ``session``, decision 0080): the pure parts.

In ``session`` mode an enclave attests **once** per boot: its evidence's report data binds
a single-use nonce, the address of a fresh secp256k1 *session key* (which never leaves the
enclave), the worker it serves and whether the app it measured requires ``strict``::

    SHA-512(b"sealrun-sms-session-v1\\0" ‖ nonce ‖ session signer (20 B) ‖ worker (20 B) ‖ flags (1 B))

(the nonce is the only variable-length part, so the preimage parses one way; bit 0 of
``flags`` is "the app requires strict"). The SMS keeps the verified claims as an
:class:`AttestedSession` with a bounded lifetime. Each task's release request is then signed
by the session key over :func:`session_request_digest` (the session, the task, the per-task
ephemeral recipient and a per-session sequence number that only grows, so a replay is
refused); the decision itself is still :func:`~sealrun.core.releases.appraise_release`, with
``isolation="session"`` and the session in its facts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

from sealrun.core.attestation import Claims, session_report_data, verify_session_report_data
from sealrun.core.tasks import recover_signer
from sealrun.errors import ReleaseError, SealrunError

__all__ = [
    "ISOLATION_MODES",
    "SESSION_ID_SIZE",
    "AttestedSession",
    "Isolation",
    "check_session_request",
    "session_report_data",
    "session_request_digest",
    "verify_session_report_data",
]

#: The isolation modes a release can be made in (docs/decisions/0080-isolation-modes.md).
Isolation = Literal["strict", "session"]
ISOLATION_MODES: Final[tuple[Isolation, ...]] = ("strict", "session")
SESSION_ID_SIZE: Final = 16

_REQUEST_DOMAIN: Final = b"sealrun-session-release-v1\x00"
_MAX_SEQUENCE: Final = 2**63 - 1


def session_request_digest(
    session_id: bytes, task_id: bytes, ephemeral_recipient: str, sequence: int
) -> bytes:
    """What the session key signs (EIP-191) to ask for one task's secrets."""
    body = (
        _REQUEST_DOMAIN
        + session_id
        + task_id
        + hashlib.sha256(ephemeral_recipient.encode("utf-8")).digest()
        + sequence.to_bytes(8, "big")
    )
    return hashlib.sha256(body).digest()


@dataclass(frozen=True, kw_only=True)
class AttestedSession:
    """A session the SMS opened after verifying its evidence (the decision's input).

    Attributes:
        session_id: random, ``SESSION_ID_SIZE`` bytes.
        claims: the verified claims of the session's evidence (policy passed, no app pinned yet).
        evidence: the evidence envelope's JSON text (it goes into each task's release record).
        signer: the session key's address.
        worker: the worker the session serves.
        requires_strict: the measured app declared it requires ``strict`` isolation.
        opened_at, expires_at: unix seconds; usable while ``opened_at <= now < expires_at``.
    """

    session_id: bytes
    claims: Claims
    evidence: str
    signer: str
    worker: str
    requires_strict: bool
    opened_at: int
    expires_at: int

    @property
    def hex_id(self) -> str:
        """``0x`` + the session id in hex."""
        return "0x" + self.session_id.hex()


def check_session_request(
    session: AttestedSession,
    *,
    task_id: bytes,
    worker: str,
    ephemeral_recipient: str,
    sequence: int,
    last_sequence: int,
    signature: bytes,
) -> None:
    """Check one task's release request against its session (expiry is the decision's).

    Raises:
        ReleaseError: ``RELEASE_SESSION_SIGNATURE_INVALID`` (not signed by the session key, or
            for another worker), ``RELEASE_SESSION_REPLAYED`` (a sequence number not above the
            session's last).
    """
    if worker.lower() != session.worker.lower():
        raise ReleaseError("this session serves another worker", code="RELEASE_SESSION_SIGNATURE_INVALID")
    if isinstance(sequence, bool) or not 0 < sequence <= _MAX_SEQUENCE:
        raise ReleaseError(
            "a session request's sequence is 1 to 2**63-1", code="RELEASE_SESSION_SIGNATURE_INVALID"
        )
    digest = session_request_digest(session.session_id, task_id, ephemeral_recipient, sequence)
    try:
        signer = recover_signer(digest, signature)
    except SealrunError as error:
        raise ReleaseError(
            f"the session request's signature is invalid: {error.message}",
            code="RELEASE_SESSION_SIGNATURE_INVALID",
        ) from error
    if signer.lower() != session.signer.lower():
        raise ReleaseError(
            "the request is not signed by the session key", code="RELEASE_SESSION_SIGNATURE_INVALID"
        )
    if sequence <= last_sequence:
        raise ReleaseError("this session request was already used", code="RELEASE_SESSION_REPLAYED")
