"""Client of the SMS (``sealrun.services.sms``): secrets, enclave challenges, attested release, audit.

Writes are signed requests (:class:`~sealrun.adapters.http.signing.SignedRequestAuth`) by
the account the SMS checks on chain: the dataset's owner, the app's owner, the requester,
the beneficiary, the workerpool owner. Each signing call takes that account's 32-byte
private key. Values are never returned by the SMS; reads only tell whether a secret exists.

Errors: :class:`~sealrun.errors.ServiceError` ``SERVICE_UNREACHABLE`` when the SMS cannot be
reached; otherwise the SMS's own problem code, raised as the matching family
(``REQUEST_*`` → :class:`~sealrun.errors.RequestError`, ``ATTEST_*`` →
:class:`~sealrun.errors.AttestationError`, anything else → :class:`~sealrun.errors.SecretError`).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx

from sealrun.adapters.http.base import ServiceClient
from sealrun.api.ids import task_id_hex
from sealrun.api.sms import (
    AuditLinkOut,
    AuditPage,
    AuditRecordOut,
    ChallengeOut,
    DatasetKeyIn,
    DatasetPolicyOut,
    EvidenceIn,
    HealthOut,
    NonceOut,
    RecipientIn,
    RecipientOut,
    ReleaseIn,
    ReleaseOut,
    RequesterSecretNameOut,
    RequesterSecretsOut,
    Routes,
    SecretIn,
    SecretStatusOut,
    SessionIn,
    SessionNonceOut,
    SessionOut,
    SessionReleaseIn,
    SignedReleaseOut,
)
from sealrun.core.attestation import Evidence
from sealrun.core.secretrules import check_secret_name, check_secret_value
from sealrun.core.tasks import address_of
from sealrun.errors import (
    AttestationError,
    ConfigError,
    RequestError,
    SealrunError,
    SecretError,
    ServiceError,
)

if TYPE_CHECKING:
    from sealrun.core.requests import RequestDomain

__all__ = ["Released", "SmsClient"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NAMES_PAGE = 1000
M = TypeVar("M")


@dataclass(frozen=True)
class Released:
    """What an attested release returns: the bundle sealed to the ephemeral key (age bytes)."""

    task_id: str
    enclave_challenge: str
    sealed_bundle: bytes
    deal_id: str | None = None
    task_index: int | None = None
    release: SignedReleaseOut | None = None


def _address(value: str) -> str:
    # Addresses go into URL paths: anything but 0x + 40 hex digits could reach another route.
    if not _ADDRESS.fullmatch(value):
        raise SecretError(f"not an Ethereum address: {value[:60]!r}", code="SECRET_INVALID")
    return value


class SmsClient(ServiceClient):
    """Talks to one SMS over HTTP.

    Args:
        base_url: the SMS root URL, e.g. ``http://127.0.0.1:8702``.
        domain: the deployment's EIP-712 domain (chain id, hub) signed requests are bound to;
            ``None`` for a client that only makes unsigned calls (the enclave's nonce and release).
        http: an httpx client to use instead of a new one (tests pass an in-process client).
        clock: UNIX seconds for request timestamps (injected for tests).
        timeout: seconds per request.
    """

    service: ClassVar[str] = "the SMS"
    default_error: ClassVar[type[SealrunError]] = SecretError
    families: ClassVar[dict[str, type[SealrunError]]] = {
        "REQUEST_": RequestError,
        "ATTEST_": AttestationError,
        "SERVICE_": ServiceError,
    }

    def __init__(
        self,
        base_url: str,
        *,
        domain: RequestDomain | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        ca_file: Path | None = None,
    ) -> None:
        super().__init__(base_url, http=http, timeout=timeout, ca_file=ca_file)
        self._domain = domain
        self._clock = clock

    def _signer(self, key: bytes) -> httpx.Auth:
        if self._domain is None:
            raise ConfigError("signed SMS calls need the deployment's domain", code="SMS_DOMAIN_MISSING")
        # Only signed calls need the EIP-712 stack; the enclave makes unsigned calls and must
        # start fast.
        from sealrun.adapters.http.signing import SignedRequestAuth

        return SignedRequestAuth(key, self._domain, clock=self._clock)

    def _signed(self, model: type[M], method: str, path: str, key: bytes, **kwargs: Any) -> M:
        return self._call(model, method, path, auth=self._signer(key), **kwargs)

    def _found(self, model: type[M], path: str) -> M | None:
        try:
            return self._call(model, "GET", path)
        except SecretError as error:
            if error.code == "SECRET_NOT_FOUND":
                return None
            raise

    def health(self) -> HealthOut:
        """The SMS's liveness and deployment (mode, chain id, hub, simulated evidence)."""
        return self._call(HealthOut, "GET", Routes.HEALTH)

    # -- secrets ---------------------------------------------------------------------------------
    def push_dataset_key(
        self, key: bytes, dataset: str, identity: str, *, filename: str | None = None
    ) -> SecretStatusOut:
        """Push a dataset's age identity and file name (``IEXEC_DATASET_FILENAME``), once;
        ``key`` is the dataset owner's."""
        path = Routes.DATASET_KEY.format(dataset=_address(dataset))
        body = DatasetKeyIn.model_construct(key=identity, filename=filename)
        return self._signed(SecretStatusOut, "PUT", path, key, body=body)

    def set_dataset_policy(self, key: bytes, dataset: str, document: str) -> DatasetPolicyOut:
        """Set (or replace) ``dataset``'s release policy (a JSON document, decision 0090);
        ``key`` is the dataset owner's. The SMS answers the canonical form and its digest."""
        path = Routes.DATASET_POLICY.format(dataset=_address(dataset))
        headers = {"content-type": "application/json"}
        return self._signed(DatasetPolicyOut, "PUT", path, key, content=document.encode(), headers=headers)

    def dataset_policy(self, dataset: str) -> DatasetPolicyOut | None:
        """``dataset``'s release policy, or ``None`` when its owner set none."""
        return self._found(DatasetPolicyOut, Routes.DATASET_POLICY.format(dataset=_address(dataset)))

    def dataset_key_status(self, dataset: str) -> SecretStatusOut | None:
        """The key's status if the SMS holds a key for ``dataset``, else ``None``."""
        return self._found(SecretStatusOut, Routes.DATASET_KEY.format(dataset=_address(dataset)))

    def dataset_key_exists(self, dataset: str) -> bool:
        """Whether the SMS holds a key for ``dataset``."""
        return self.dataset_key_status(dataset) is not None

    def push_app_secret(self, key: bytes, app: str, value: str) -> SecretStatusOut:
        """Push (or replace) the app developer secret; ``key`` is the app owner's.

        Raises:
            SecretError: ``SECRET_VALUE_INVALID`` (nothing sent), ``SECRET_NOT_OWNER``,
                ``SECRET_ASSET_UNKNOWN``.
        """
        check_secret_value(value)
        path = Routes.APP_SECRET.format(app=_address(app))
        return self._signed(SecretStatusOut, "PUT", path, key, body=SecretIn.model_construct(value=value))

    def app_secret_status(self, app: str) -> SecretStatusOut | None:
        """The secret's status if ``app`` has a developer secret, else ``None``."""
        return self._found(SecretStatusOut, Routes.APP_SECRET.format(app=_address(app)))

    def push_requester_secret(self, key: bytes, name: str, value: str) -> SecretStatusOut:
        """Push (or replace) the requester secret ``name``; ``key`` is the requester's.

        Raises:
            SecretError: ``SECRET_NAME_INVALID`` / ``SECRET_VALUE_INVALID`` (nothing sent).
        """
        check_secret_name(name)
        check_secret_value(value)
        path = Routes.REQUESTER_SECRET.format(requester=address_of(key), name=name)
        return self._signed(SecretStatusOut, "PUT", path, key, body=SecretIn.model_construct(value=value))

    def requester_secret_status(self, requester: str, name: str) -> SecretStatusOut | None:
        """The secret's status if ``requester`` has a secret ``name``, else ``None``.

        Raises:
            SecretError: ``SECRET_NAME_INVALID`` (nothing sent).
        """
        path = Routes.REQUESTER_SECRET.format(requester=_address(requester), name=check_secret_name(name))
        return self._found(SecretStatusOut, path)

    def requester_secret_names(self, key: bytes) -> list[RequesterSecretNameOut]:
        """Every secret name of ``key``'s account, sorted, with ``updated_at`` (never a value)."""
        path = Routes.REQUESTER_SECRETS.format(requester=address_of(key))
        names: list[RequesterSecretNameOut] = []
        after = ""
        while True:
            params = {"limit": _NAMES_PAGE, **({"after": after} if after else {})}
            page = self._signed(RequesterSecretsOut, "GET", path, key, params=params).secrets
            names.extend(page)
            if len(page) < _NAMES_PAGE:
                return names
            after = page[-1].name

    def missing_requester_secrets(self, requester: str, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that ``requester`` has not pushed to the SMS (in order)."""
        return [name for name in names if self.requester_secret_status(requester, name) is None]

    def set_result_recipient(self, key: bytes, recipient: str) -> SecretStatusOut:
        """Set the age recipient results of ``key``'s account are sealed to."""
        path = Routes.RECIPIENT.format(beneficiary=address_of(key))
        return self._signed(
            SecretStatusOut, "PUT", path, key, body=RecipientIn.model_construct(recipient=recipient)
        )

    def result_recipient(self, beneficiary: str) -> str | None:
        """The beneficiary's registered age recipient, or ``None``."""
        found = self._found(RecipientOut, Routes.RECIPIENT.format(beneficiary=beneficiary))
        return None if found is None else found.recipient

    # -- tasks -----------------------------------------------------------------------------------
    def enclave_challenge(self, key: bytes, task_id: bytes) -> str:
        """The task's enclave challenge address (created once); ``key`` is the pool owner's."""
        path = Routes.ENCLAVE_CHALLENGE.format(task_id=task_id_hex(task_id))
        # The SMS creates a task's challenge once and answers the same one after: a repeat
        # (re-signed, to the next replica after a cut) is harmless.
        return self._signed(ChallengeOut, "POST", path, key, idempotent=True).enclave_challenge

    def attestation_nonce(self, task_id: bytes) -> bytes:
        """A fresh single-use attestation nonce for a live task."""
        # Asking again is harmless (an unused nonce expires), so it may be resent after a
        # connection cut, to the next replica.
        answer = self._call(
            NonceOut, "POST", Routes.NONCE.format(task_id=task_id_hex(task_id)), idempotent=True
        )
        return bytes.fromhex(answer.nonce.removeprefix("0x"))

    def release(
        self,
        task_id: bytes,
        *,
        nonce: bytes,
        worker: str,
        authorization: bytes,
        evidence: Evidence,
        ephemeral_recipient: str,
    ) -> Released:
        """Present evidence and obtain the secrets bundle sealed to ``ephemeral_recipient``."""
        body = ReleaseIn.model_construct(
            nonce="0x" + nonce.hex(),
            worker=worker,
            authorization="0x" + authorization.hex(),
            evidence=EvidenceIn.model_construct(**json.loads(evidence.to_json())),
            ephemeral_recipient=ephemeral_recipient,
        )
        answer = self._call(
            ReleaseOut, "POST", Routes.RELEASE.format(task_id=task_id_hex(task_id)), body=body
        )
        return _released(answer)

    # -- attested sessions (isolation mode ``session``, decision 0080) ----------------------------
    def session_nonce(self) -> bytes:
        """A fresh single-use nonce to open an attested session."""
        return bytes.fromhex(
            self._call(SessionNonceOut, "POST", Routes.SESSION_NONCE).nonce.removeprefix("0x")
        )

    def open_session(
        self, *, nonce: bytes, worker: str, signer: str, requires_strict: bool, evidence: Evidence
    ) -> SessionOut:
        """Present the session's evidence once; return the open session (id, expiry)."""
        body = SessionIn.model_construct(
            nonce="0x" + nonce.hex(),
            worker=worker,
            signer=signer,
            requires_strict=requires_strict,
            evidence=EvidenceIn.model_construct(**json.loads(evidence.to_json())),
        )
        return self._call(SessionOut, "POST", Routes.SESSIONS, body=body)

    def session_release(
        self,
        task_id: bytes,
        *,
        session: str,
        worker: str,
        authorization: bytes,
        ephemeral_recipient: str,
        sequence: int,
        signature: bytes,
    ) -> Released:
        """Obtain one task's secrets bundle over an open session (signed by the session key)."""
        body = SessionReleaseIn.model_construct(
            session=session,
            worker=worker,
            authorization="0x" + authorization.hex(),
            ephemeral_recipient=ephemeral_recipient,
            sequence=sequence,
            signature="0x" + signature.hex(),
        )
        path = Routes.SESSION_RELEASE.format(task_id=task_id_hex(task_id))
        return _released(self._call(ReleaseOut, "POST", path, body=body))

    # -- audit -----------------------------------------------------------------------------------
    def dataset_audit(
        self, key: bytes, dataset: str, *, after: int = 0, limit: int = 100
    ) -> list[AuditRecordOut]:
        """The audit records about ``dataset``; ``key`` is the dataset owner's."""
        path = Routes.DATASET_AUDIT.format(dataset=dataset)
        return self._signed(AuditPage, "GET", path, key, params={"after": after, "limit": limit}).records

    def audit_link(self, seq: int) -> AuditLinkOut | None:
        """The audit chain's link at ``seq`` (hashes only), or ``None`` when the log has none."""
        return self._found(AuditLinkOut, Routes.AUDIT_LINK.format(seq=seq))

    def audit_head(self) -> AuditRecordOut | None:
        """The newest audit record (its hash commits to the whole log), or ``None`` when empty."""
        return self._found(AuditRecordOut, Routes.AUDIT_HEAD)


def _released(answer: ReleaseOut) -> Released:
    return Released(
        task_id=answer.task_id,
        enclave_challenge=answer.enclave_challenge,
        sealed_bundle=base64.b64decode(answer.sealed_bundle),
        deal_id=answer.deal_id,
        task_index=answer.task_index,
        release=answer.release,
    )
