"""Client of the SMS (``sealrun.services.sms``): secrets, enclave challenges, attested release, audit.

Writes are signed requests (:mod:`sealrun.core.requests`, the headers of
:mod:`sealrun.adapters.web.signing`) by the account the SMS checks on chain: the dataset's
owner, the app's owner, the requester, the beneficiary, the workerpool owner. Each signing
call takes that account's 32-byte private key. Values are never returned by the SMS; reads
only tell whether a secret exists.

Errors: :class:`~sealrun.errors.ServiceError` ``SERVICE_UNREACHABLE`` when the SMS cannot be
reached; otherwise the SMS's own problem code, raised as the matching family
(``REQUEST_*`` → :class:`~sealrun.errors.RequestError`, ``ATTEST_*`` →
:class:`~sealrun.errors.AttestationError`, anything else → :class:`~sealrun.errors.SecretError`).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from sealrun.adapters.problems import raise_for_problem
from sealrun.core.attestation import Evidence
from sealrun.core.secretrules import check_secret_name, check_secret_value
from sealrun.core.tasks import address_of
from sealrun.errors import (
    AttestationError,
    ConfigError,
    RequestError,
    SecretError,
    ServiceError,
)

if TYPE_CHECKING:
    from sealrun.core.requests import RequestDomain

__all__ = ["Released", "SmsClient"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NAMES_PAGE = 1000


@dataclass(frozen=True)
class Released:
    """What an attested release returns: the bundle sealed to the ephemeral key (age bytes)."""

    task_id: str
    enclave_challenge: str
    sealed_bundle: bytes


def _task(task_id: bytes) -> str:
    return "0x" + task_id.hex()


def _address(value: str) -> str:
    # Addresses go into URL paths: anything but 0x + 40 hex digits could reach another route.
    if not _ADDRESS.fullmatch(value):
        raise SecretError(f"not an Ethereum address: {value[:60]!r}", code="SECRET_INVALID")
    return value


class SmsClient:
    """Talks to one SMS over HTTP.

    Args:
        base_url: the SMS root URL, e.g. ``http://127.0.0.1:8702``.
        domain: the deployment's EIP-712 domain (chain id, hub) signed requests are bound to;
            ``None`` for a client that only makes unsigned calls (the enclave's nonce and release).
        http: an httpx client to use instead of a new one (tests pass an in-process client).
        clock: UNIX seconds for request timestamps (injected for tests).
        timeout: seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        domain: RequestDomain | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self._http = http or httpx.Client(timeout=timeout)
        self._http.base_url = httpx.URL(base_url.rstrip("/"))
        self._domain = domain
        self._clock = clock

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, key: bytes | None = None
    ) -> Any:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        if key is not None:
            if self._domain is None:
                raise ConfigError("signed SMS calls need the deployment's domain", code="SMS_DOMAIN_MISSING")
            # Only signed calls need the EIP-712 stack and FastAPI's header helpers; the
            # enclave makes unsigned calls and must start fast.
            from sealrun.adapters.web import request_action, signature_headers
            from sealrun.core.requests import sign_request

            signed = sign_request(
                key,
                self._domain,
                action=request_action(method, path),
                body=content,
                timestamp=int(self._clock()),
                nonce=secrets.token_bytes(32),
            )
            headers.update(signature_headers(signed))
        try:
            response = self._http.request(method, path, content=content or None, headers=headers)
        except httpx.TransportError as error:
            raise ServiceError(
                f"the SMS at {self._http.base_url} is unreachable: {error}", code="SERVICE_UNREACHABLE"
            ) from error
        raise_for_problem(
            response,
            service="the SMS",
            default=SecretError,
            families={"REQUEST_": RequestError, "ATTEST_": AttestationError, "SERVICE_": ServiceError},
        )
        return response.json() if response.content else {}

    def _status(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._send("GET", path)
        except SecretError as error:
            if error.code == "SECRET_NOT_FOUND":
                return None
            raise
        return result

    def health(self) -> dict[str, Any]:
        """The SMS's liveness and deployment (mode, chain id, hub, simulated evidence)."""
        result: dict[str, Any] = self._send("GET", "/v1/health")
        return result

    # -- secrets ---------------------------------------------------------------------------------
    def push_dataset_key(
        self, key: bytes, dataset: str, identity: str, *, filename: str | None = None
    ) -> dict[str, Any]:
        """Push a dataset's age identity and file name (``IEXEC_DATASET_FILENAME``), once;
        ``key`` is the dataset owner's."""
        path = f"/v1/datasets/{_address(dataset)}/key"
        body: dict[str, Any] = {"key": identity}
        if filename is not None:
            body["filename"] = filename
        result: dict[str, Any] = self._send("PUT", path, body=body, key=key)
        return result

    def dataset_key_status(self, dataset: str) -> dict[str, Any] | None:
        """``{subject, owner, updated_at}`` if the SMS holds a key for ``dataset``, else ``None``."""
        return self._status(f"/v1/datasets/{_address(dataset)}/key")

    def dataset_key_exists(self, dataset: str) -> bool:
        """Whether the SMS holds a key for ``dataset``."""
        return self.dataset_key_status(dataset) is not None

    def push_app_secret(self, key: bytes, app: str, value: str) -> dict[str, Any]:
        """Push (or replace) the app developer secret; ``key`` is the app owner's.

        Raises:
            SecretError: ``SECRET_VALUE_INVALID`` (nothing sent), ``SECRET_NOT_OWNER``,
                ``SECRET_ASSET_UNKNOWN``.
        """
        check_secret_value(value)
        path = f"/v1/apps/{_address(app)}/secret"
        result: dict[str, Any] = self._send("PUT", path, body={"value": value}, key=key)
        return result

    def app_secret_status(self, app: str) -> dict[str, Any] | None:
        """``{subject, owner, updated_at}`` if ``app`` has a developer secret, else ``None``."""
        return self._status(f"/v1/apps/{_address(app)}/secret")

    def push_requester_secret(self, key: bytes, name: str, value: str) -> dict[str, Any]:
        """Push (or replace) the requester secret ``name``; ``key`` is the requester's.

        Raises:
            SecretError: ``SECRET_NAME_INVALID`` / ``SECRET_VALUE_INVALID`` (nothing sent).
        """
        check_secret_name(name)
        check_secret_value(value)
        requester = address_of(key)
        path = f"/v1/requesters/{requester}/secrets/{name}"
        result: dict[str, Any] = self._send("PUT", path, body={"value": value}, key=key)
        return result

    def requester_secret_status(self, requester: str, name: str) -> dict[str, Any] | None:
        """``{subject, owner, updated_at}`` if ``requester`` has a secret ``name``, else ``None``.

        Raises:
            SecretError: ``SECRET_NAME_INVALID`` (nothing sent).
        """
        path = f"/v1/requesters/{_address(requester)}/secrets/{check_secret_name(name)}"
        return self._status(path)

    def requester_secret_names(self, key: bytes) -> list[dict[str, Any]]:
        """Every secret name of ``key``'s account, sorted, with ``updated_at`` (never a value)."""
        requester = address_of(key)
        names: list[dict[str, Any]] = []
        after = ""
        while True:
            query = f"limit={_NAMES_PAGE}" + (f"&after={after}" if after else "")
            page = self._send("GET", f"/v1/requesters/{requester}/secrets?{query}", key=key)["secrets"]
            names.extend(page)
            if len(page) < _NAMES_PAGE:
                return names
            after = str(page[-1]["name"])

    def missing_requester_secrets(self, requester: str, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that ``requester`` has not pushed to the SMS (in order)."""
        return [name for name in names if self.requester_secret_status(requester, name) is None]

    def set_result_recipient(self, key: bytes, recipient: str) -> dict[str, Any]:
        """Set the age recipient results of ``key``'s account are sealed to."""
        beneficiary = address_of(key)
        path = f"/v1/beneficiaries/{beneficiary}/recipient"
        result: dict[str, Any] = self._send("PUT", path, body={"recipient": recipient}, key=key)
        return result

    def result_recipient(self, beneficiary: str) -> str | None:
        """The beneficiary's registered age recipient, or ``None``."""
        try:
            return str(self._send("GET", f"/v1/beneficiaries/{beneficiary}/recipient")["recipient"])
        except SecretError as error:
            if error.code == "SECRET_NOT_FOUND":
                return None
            raise

    # -- tasks -----------------------------------------------------------------------------------
    def enclave_challenge(self, key: bytes, task_id: bytes) -> str:
        """The task's enclave challenge address (created once); ``key`` is the pool owner's."""
        answer = self._send("POST", f"/v1/tasks/{_task(task_id)}/enclave-challenge", key=key)
        return str(answer["enclave_challenge"])

    def attestation_nonce(self, task_id: bytes) -> bytes:
        """A fresh single-use attestation nonce for a live task."""
        answer = self._send("POST", f"/v1/tasks/{_task(task_id)}/nonce")
        return bytes.fromhex(str(answer["nonce"]).removeprefix("0x"))

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
        body = {
            "nonce": "0x" + nonce.hex(),
            "worker": worker,
            "authorization": "0x" + authorization.hex(),
            "evidence": json.loads(evidence.to_json()),
            "ephemeral_recipient": ephemeral_recipient,
        }
        answer = self._send("POST", f"/v1/tasks/{_task(task_id)}/release", body=body)
        return Released(
            task_id=str(answer["task_id"]),
            enclave_challenge=str(answer["enclave_challenge"]),
            sealed_bundle=base64.b64decode(answer["sealed_bundle"]),
        )

    # -- audit -----------------------------------------------------------------------------------
    def dataset_audit(
        self, key: bytes, dataset: str, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The audit records about ``dataset``; ``key`` is the dataset owner's."""
        answer = self._send("GET", f"/v1/datasets/{dataset}/audit?after={after}&limit={limit}", key=key)
        return list(answer["records"])

    def audit_head(self) -> dict[str, Any] | None:
        """The newest audit record (its hash commits to the whole log), or ``None`` when empty."""
        try:
            result: dict[str, Any] = self._send("GET", "/v1/audit/head")
        except SecretError as error:
            if error.code == "SECRET_NOT_FOUND":
                return None
            raise
        return result
