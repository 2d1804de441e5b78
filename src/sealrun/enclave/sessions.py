"""The enclave's side of an attested session (isolation mode ``session``, decision 0080).

:class:`EnclaveSession` attests once: it makes a fresh secp256k1 session key (it never
leaves this process), asks the SMS for a session nonce, has the TEE quote
``session_report_data(nonce, signer, worker, requires_strict)`` and opens the session. Each
task then costs one round trip: a fresh ephemeral age key per task, a request signed by the
session key with a sequence number that only grows, and the bundle sealed to that task's
ephemeral key, checked as in ``strict`` mode (:func:`~sealrun.enclave.smssecrets.open_released`).
When the SMS answers ``RELEASE_SESSION_UNKNOWN`` (it restarted, or pushed the session out)
or ``RELEASE_SESSION_EXPIRED``, the enclave attests again and asks once more: nothing is lost.

:class:`SessionReleased` is the per-task :class:`~sealrun.enclave.secrets.SecretsSource`
handed to the runtime: the bundle already released, the release facts (with the session's
evidence, for the receipt), and the measurement the session attested, which the task's own
measured copy of the bundle must equal (``BUNDLE_MISMATCH`` otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.tee import Quoter
from sealrun.core.attestation import Evidence
from sealrun.core.releases import session_report_data, session_request_digest
from sealrun.core.sealing import Identity
from sealrun.core.tasks import address_of, sign_digest
from sealrun.core.tasks.secretsbundle import SecretsBundle
from sealrun.enclave.secrets import ReleaseInfo
from sealrun.enclave.smssecrets import open_released
from sealrun.errors import EnclaveError, SecretError, SecretsBundleError

__all__ = ["RETRY_CODES", "EnclaveSession", "SessionQuoter", "SessionReleased"]

#: The SMS's answers after which the enclave attests again and retries once.
RETRY_CODES = frozenset({"RELEASE_SESSION_UNKNOWN", "RELEASE_SESSION_EXPIRED"})
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _session_key(random: Callable[[int], bytes]) -> bytes:
    while True:
        key = random(32)
        if 0 < int.from_bytes(key, "big") < _SECP256K1_ORDER:
            return key


@dataclass
class EnclaveSession:
    """One attested session with the SMS, opened lazily and again when the SMS asks.

    Args:
        client: the SMS client.
        worker: the worker this enclave serves (bound in the session's evidence).
        measurement: the app bundle's fingerprint this enclave measured.
        requires_strict: the manifest's ``[isolation] require = "strict"`` (bound too; the SMS
            then refuses every release of the session).
        quote: makes evidence over 64 bytes of report data with ``measurement``.
        random: randomness for the session and ephemeral keys.
    """

    client: SmsClient
    worker: str
    measurement: bytes
    requires_strict: bool
    quote: Callable[[bytes], Evidence] = field(repr=False)
    random: Callable[[int], bytes] = field(default=os.urandom, repr=False)
    session_id: str | None = None
    expires_at: int = 0
    attestations: int = 0
    evidence: Evidence | None = field(default=None, repr=False)
    _key: bytearray = field(default_factory=bytearray, repr=False)
    _sequence: int = 0

    def open(self) -> None:
        """Attest to the SMS with a fresh session key and open a session.

        Raises:
            SecretError, AttestationError: the SMS refused (its code); ServiceError: unreachable.
        """
        key = _session_key(self.random)
        signer = address_of(key)
        nonce = self.client.session_nonce()
        evidence = self.quote(
            session_report_data(
                nonce, signer=signer, worker=self.worker, requires_strict=self.requires_strict
            )
        )
        opened = self.client.open_session(
            nonce=nonce,
            worker=self.worker,
            signer=signer,
            requires_strict=self.requires_strict,
            evidence=evidence,
        )
        self._key, self._sequence, self.evidence = bytearray(key), 0, evidence
        self.session_id, self.expires_at = opened.session, opened.expires_at
        self.attestations += 1

    def forget_key(self) -> None:
        """Zero this process's copy of the session key (a task forked from the session calls it).

        Best effort: Python may have left short-lived copies (the signing call's argument) in
        freed memory; decision 0080 states what that means.
        """
        for index in range(len(self._key)):
            self._key[index] = 0

    def release(self, task_id: bytes, authorization: bytes) -> tuple[SecretsBundle, ReleaseInfo]:
        """One task's bundle over the session (attesting first, or again, when needed).

        Raises:
            SecretError, AttestationError: the SMS refused (its code).
            SecretsBundleError: ``BUNDLE_MISMATCH``, or an unreadable bundle.
        """
        if self.session_id is None:
            self.open()
        try:
            return self._release(task_id, authorization)
        except SecretError as error:  # the client's family for the SMS's RELEASE_* codes
            if error.code not in RETRY_CODES:
                raise
        self.open()
        return self._release(task_id, authorization)

    def _release(self, task_id: bytes, authorization: bytes) -> tuple[SecretsBundle, ReleaseInfo]:
        assert self.session_id is not None
        identity = Identity.generate(rng=self.random)
        recipient = str(identity.recipient)
        self._sequence += 1
        session = bytes.fromhex(self.session_id.removeprefix("0x"))
        digest = session_request_digest(session, task_id, recipient, self._sequence)
        signature = sign_digest(bytes(self._key), digest)
        released = self.client.session_release(
            task_id,
            session=self.session_id,
            worker=self.worker,
            authorization=authorization,
            ephemeral_recipient=recipient,
            sequence=self._sequence,
            signature=signature,
        )
        bundle, info = open_released(released, identity, task_id=task_id, worker=self.worker)
        info = ReleaseInfo(info.deal_id, info.task_index, info.signed_record, info.policy, self.evidence)
        return bundle, info


@dataclass(frozen=True)
class SessionReleased:
    """One task's secrets, released over the session before the task's sandbox was made.

    Attributes:
        bundle: the opened, checked bundle.
        info: the release facts for the receipt (with the session's evidence).
        measurement: the fingerprint the session attested.
    """

    bundle: SecretsBundle = field(repr=False)
    info: ReleaseInfo
    measurement: bytes

    def fetch(self, quoter: Quoter) -> SecretsBundle:
        """Return the bundle if the task's measured bundle is the one the session attested.

        Raises:
            SecretsBundleError: ``BUNDLE_MISMATCH``.
        """
        if quoter.measurement != self.measurement:
            raise SecretsBundleError(
                "the task's bundle is not the one the session attested", code="BUNDLE_MISMATCH"
            )
        return self.bundle

    def release_context(self) -> ReleaseInfo:
        """The release facts (deal, index, the SMS's signed record, the session's evidence)."""
        return self.info


@dataclass(frozen=True)
class SessionQuoter:
    """The quoter a session task's runtime gets: it names the TEE and the measurement only.

    The task was released over the session, so it needs no evidence of its own; asking for
    some is a bug (``ENCLAVE_SESSION_NO_QUOTE``).
    """

    tee: str
    measurement: bytes

    def evidence(self, report_data: bytes) -> Evidence:  # noqa: ARG002 - refuses whatever it is asked
        """Refuse: a session task quotes nothing.

        Raises:
            EnclaveError: ``ENCLAVE_SESSION_NO_QUOTE``.
        """
        raise EnclaveError(
            "a task released over a session makes no evidence", code="ENCLAVE_SESSION_NO_QUOTE"
        )
