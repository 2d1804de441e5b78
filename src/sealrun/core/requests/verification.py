"""Verifying a signed request: signer, timestamp window, single-use nonce.

The verifier is pure: the clock is the ``now`` argument and the nonce ledger is an injected
:class:`RequestNonceStore` (a database table in the services, a dict in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sealrun.core.requests.signing import RequestDomain, RequestSignature, recover_request_signer
from sealrun.errors import ConfigError, RequestError

__all__ = ["RequestNonceStore", "RequestVerifier", "VerifiedRequest"]


class RequestNonceStore(Protocol):
    """Remembers which (signer, nonce) pairs were used, until they could no longer be fresh."""

    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        """Record the pair or raise ``RequestError(code="REQUEST_REPLAYED")`` if already recorded."""


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature, freshness and nonce were checked. Only the verifier mints it."""

    signer: str
    action: str
    timestamp: int
    nonce: bytes


@dataclass(frozen=True)
class RequestVerifier:
    """Checks signed requests for one deployment.

    Args:
        domain: the deployment's EIP-712 domain (chain id, hub).
        nonces: the single-use ledger.
        window: seconds a timestamp may differ from ``now`` either way.
    """

    domain: RequestDomain
    nonces: RequestNonceStore
    window: int = 300

    def __post_init__(self) -> None:
        if self.window <= 0:
            raise ConfigError("request window must be positive", code="CONFIG_INVALID")

    def verify(self, *, action: str, body: bytes, signed: RequestSignature, now: int) -> VerifiedRequest:
        """Authenticate one request and consume its nonce.

        The signature is checked before the nonce is consumed, so nobody can burn another
        signer's nonces with forged requests.

        Returns:
            The verified request (its ``signer`` is the authenticated sender).

        Raises:
            RequestError: ``REQUEST_SIGNATURE_INVALID``, ``REQUEST_EXPIRED``,
                ``REQUEST_REPLAYED`` or ``REQUEST_MALFORMED``.
        """
        signer = recover_request_signer(self.domain, action=action, body=body, signed=signed)
        if abs(signed.timestamp - now) > self.window:
            raise RequestError(
                f"request timestamp {signed.timestamp} is outside ±{self.window}s of {now}",
                code="REQUEST_EXPIRED",
            )
        self.nonces.consume(signer, signed.nonce, expires_at=signed.timestamp + self.window)
        return VerifiedRequest(signer=signer, action=action, timestamp=signed.timestamp, nonce=signed.nonce)
