"""Client of the SMS's owner-facing API: push dataset keys, secrets and result recipients.

Every write is a signed request (:mod:`sealrun.core.requests`, the headers of
:mod:`sealrun.adapters.web.signing`) by the account the SMS checks on chain: the dataset's
owner, the app's owner, the requester, the beneficiary. Values are never returned by the
SMS; reads only tell whether a secret exists. The enclave's attested release is not here
(it lives with the enclave runtime).

Errors: :class:`~sealrun.errors.ServiceError` ``SMS_UNREACHABLE``; the SMS's own problem code
otherwise (``REQUEST_*`` as :class:`~sealrun.errors.RequestError`, ``SECRET_*``/``SMS_*`` as
:class:`~sealrun.errors.SecretError`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from sealrun.adapters.web import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.errors import RequestError, SealrunError, SecretError, ServiceError

__all__ = ["SmsClient"]


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        code, detail = str(body.get("code", "SERVICE_ERROR")), str(body.get("detail", ""))
    except ValueError:
        code, detail = "SERVICE_ERROR", response.text[:300]
    kind: type[SealrunError] = SecretError
    if code.startswith("REQUEST_"):
        kind = RequestError
    elif code.startswith("SERVICE_"):
        kind = ServiceError
    raise kind(f"the SMS answered {response.status_code}: {detail}", code=code)


class SmsClient:
    """Talks to one SMS as the holder of ``key``.

    Args:
        base_url: the SMS root URL, e.g. ``http://127.0.0.1:8600``.
        domain: the deployment's EIP-712 domain (chain id, hub).
        key: the signer's 32-byte private key (``None``: reads only).
        http: an httpx client to use instead of a new one (tests pass an in-process client).
        clock: UNIX seconds (injected for tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        domain: RequestDomain,
        key: bytes | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self._client = http or httpx.Client(timeout=timeout)
        self._client.base_url = httpx.URL(base_url.rstrip("/"))
        self._domain = domain
        self._key = key
        self._clock = clock

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        if method != "GET":
            if self._key is None:
                raise SecretError("this SMS client has no signing key", code="SMS_CLIENT_NO_KEY")
            signed = sign_request(
                self._key,
                self._domain,
                action=request_action(method, path),
                body=content,
                timestamp=int(self._clock()),
                nonce=secrets.token_bytes(32),
            )
            headers.update(signature_headers(signed))
        try:
            response = self._client.request(method, path, content=content or None, headers=headers)
        except httpx.TransportError as error:
            raise ServiceError(
                f"the SMS at {self._client.base_url} is unreachable: {error}", code="SMS_UNREACHABLE"
            ) from error
        _raise_for_problem(response)
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    def put_dataset_key(self, dataset: str, identity: str) -> dict[str, Any]:
        """Push a dataset's key (its age identity), once; signed by the dataset's owner."""
        return self._send("PUT", f"/v1/datasets/{dataset}/key", {"key": identity})

    def dataset_key_exists(self, dataset: str) -> bool:
        """Whether the SMS holds a key for ``dataset``."""
        try:
            self._send("GET", f"/v1/datasets/{dataset}/key")
        except SecretError as error:
            if "404" in error.message:
                return False
            raise
        return True

    def put_requester_secret(self, requester: str, name: str, value: str) -> dict[str, Any]:
        """Push (or replace) a named requester secret; signed by the requester."""
        return self._send("PUT", f"/v1/requesters/{requester}/secrets/{name}", {"value": value})

    def put_app_secret(self, app: str, value: str) -> dict[str, Any]:
        """Push (or replace) the app developer secret; signed by the app's owner."""
        return self._send("PUT", f"/v1/apps/{app}/secret", {"value": value})

    def put_result_recipient(self, beneficiary: str, recipient: str) -> dict[str, Any]:
        """Set the age recipient the beneficiary's results are sealed to; signed by the beneficiary."""
        return self._send("PUT", f"/v1/beneficiaries/{beneficiary}/recipient", {"recipient": recipient})

    def result_recipient(self, beneficiary: str) -> str | None:
        """The beneficiary's registered age recipient, or ``None``."""
        try:
            return str(self._send("GET", f"/v1/beneficiaries/{beneficiary}/recipient")["recipient"])
        except SecretError as error:
            if "404" in error.message:
                return None
            raise
