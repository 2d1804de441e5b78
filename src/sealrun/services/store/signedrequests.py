"""Signed store requests: the EIP-712 request of :mod:`sealrun.core.requests` over HTTP.

Two uses: dataset uploads (``"PUT /v1/blobs/<sha256>"``) and the beneficiary's reads of a
task's sealed output (``"GET /v1/blobs/<sha256>"``, ``"HEAD ..."``,
``"GET /v1/tasks/<task id>/blobs"``). Every action is signed with an *empty* body hash: the
path already commits to the content (the store refuses bytes that do not hash to it), and
hashing a multi-gigabyte body twice (keccak for the signature, sha256 for the name) would
double the upload's cost. Nonces live in memory: a replayed upload can only store the same
content-addressed bytes again, which is idempotent, and a replayed read within the
timestamp window after a restart returns ciphertext sealed to the beneficiary, so losing the
ledger on restart is harmless here (unlike in the SMS).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from sealrun.api.signing import parse_signature_headers, request_action
from sealrun.core.requests import RequestDomain, RequestVerifier
from sealrun.errors import RequestError

__all__ = ["MemoryNonceLedger", "SignedRequestAuthenticator"]


class MemoryNonceLedger:
    """A single-use nonce ledger in memory; entries are dropped once they could not be fresh."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bytes], int] = {}
        self._lock = threading.Lock()

    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        """Record ``(signer, nonce)`` or raise ``REQUEST_REPLAYED``."""
        with self._lock:
            key = (signer, nonce)
            if key in self._seen:
                raise RequestError("this request was already used", code="REQUEST_REPLAYED")
            self._seen[key] = expires_at
            if len(self._seen) > 10_000:
                oldest = min(self._seen.values())
                self._seen = {k: v for k, v in self._seen.items() if v > oldest}


class SignedRequestAuthenticator:
    """Authenticates store requests (uploads, the beneficiary's reads) signed by an account.

    Args:
        domain: the deployment's EIP-712 domain (chain id and hub).
        window: seconds a request's timestamp may be off.
    """

    def __init__(self, domain: RequestDomain, *, window: int) -> None:
        self._verifier = RequestVerifier(domain=domain, nonces=MemoryNonceLedger(), window=window)

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], *, now: int) -> str:
        """Return the signer of this request.

        Raises:
            RequestError: ``REQUEST_UNSIGNED``, ``REQUEST_MALFORMED``, ``REQUEST_SIGNATURE_INVALID``,
                ``REQUEST_EXPIRED`` or ``REQUEST_REPLAYED``.
        """
        signed = parse_signature_headers(headers)
        verified = self._verifier.verify(
            action=request_action(method, path), body=b"", signed=signed, now=now
        )
        return verified.signer
