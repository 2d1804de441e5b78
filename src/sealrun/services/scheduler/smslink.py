"""The scheduler's calls to the SMS: a task's enclave challenge, asked as the pool owner.

``POST {sms}/v1/tasks/{taskid}/enclave-challenge`` signed (EIP-712 request, empty body) by
the workerpool owner's key; the SMS creates the per-task key once and returns its address.
Errors: :class:`~sealrun.errors.ServiceError` ``SMS_UNREACHABLE`` or the SMS's own code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx

from sealrun.adapters.web import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.errors import ServiceError

__all__ = ["SmsChallenges"]


class SmsChallenges:
    """Gets enclave challenges from one SMS.

    Args:
        sms_url: the SMS's root URL.
        key: the workerpool owner's private key.
        domain: the deployment's EIP-712 domain.
        clock: unix time source (for the request timestamp).
        http: an httpx client to use (tests pass an in-process one).
    """

    def __init__(
        self,
        sms_url: str,
        *,
        key: bytes,
        domain: RequestDomain,
        clock: Callable[[], float],
        http: httpx.Client | None = None,
    ) -> None:
        self._base = sms_url.rstrip("/")
        self._key = key
        self._domain = domain
        self._clock = clock
        self._http = http or httpx.Client(timeout=30.0)

    def enclave_challenge(self, task: bytes) -> str:
        """The address of ``task``'s enclave challenge key (created by the SMS on first ask)."""
        path = f"/v1/tasks/0x{task.hex()}/enclave-challenge"
        signed = sign_request(
            self._key, self._domain, action=request_action("POST", path), body=b"",
            timestamp=int(self._clock()), nonce=secrets.token_bytes(32),
        )  # fmt: skip
        try:
            response = self._http.post(self._base + path, content=b"", headers=signature_headers(signed))
        except httpx.TransportError as error:
            raise ServiceError(
                f"the SMS at {self._base} is unreachable: {error}", code="SMS_UNREACHABLE"
            ) from error
        if not response.is_success:
            try:
                body = response.json()
                code, detail = str(body.get("code", "SMS_ERROR")), str(body.get("detail", ""))
            except ValueError:
                code, detail = "SMS_ERROR", response.text[:200]
            raise ServiceError(f"the SMS refused the enclave challenge: {detail}", code=code)
        address: str = response.json()["enclave_challenge"]
        return address
