"""Request signing as an ``httpx.Auth``: the one way a client authenticates to a service.

:class:`SignedRequestAuth` signs each request it is given with the EIP-712 ``Request`` of
:mod:`sealrun.core.requests` and attaches the headers of :mod:`sealrun.api.signing`: the
action is ``"<METHOD> <path>[?query]"`` of the URL actually sent, the body hash covers the
exact body bytes, except for a content-addressed blob (a request sent with the
:data:`CONTENT_ADDRESSED` extension), whose path already names the sha256 of its bytes: its
body is streamed, never read for the signature, and signs as the empty string. Each send is
signed afresh (timestamp from the injected clock, 32 random nonce bytes), so a retried
request is not a replay. The scheme is written down in ``docs/formats.md``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator

import httpx

from sealrun.api.signing import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.core.tasks import address_of

__all__ = ["CONTENT_ADDRESSED", "SignedRequestAuth"]

#: The request extension marking a content-addressed blob: its body signs as ``b""``.
CONTENT_ADDRESSED = "sealrun_content_addressed"


class SignedRequestAuth(httpx.Auth):
    """Signs requests as one account under one deployment's domain.

    Args:
        key: the account's 32-byte secp256k1 private key.
        domain: the deployment's EIP-712 domain (chain id, hub).
        clock: UNIX seconds for the timestamp (injected for tests).
        nonce: returns 32 fresh random bytes (injected for tests).
    """

    def __init__(
        self,
        key: bytes,
        domain: RequestDomain,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], bytes] = lambda: secrets.token_bytes(32),
    ) -> None:
        self._key = key
        self.domain = domain
        self._clock = clock
        self._nonce = nonce

    @property
    def address(self) -> str:
        """The checksummed address of the signing account."""
        return address_of(self._key)

    def sign(self, request: httpx.Request) -> None:
        """Attach the signature headers of ``request`` (reads its body unless content-addressed)."""
        body = b"" if request.extensions.get(CONTENT_ADDRESSED) else request.read()
        signed = sign_request(
            self._key,
            self.domain,
            action=request_action(request.method, request.url.path, request.url.query.decode()),
            body=body,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
        )
        request.headers.update(signature_headers(signed))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's hook: sign, then send."""
        self.sign(request)
        yield request
