"""Signed requests: EIP-712 authentication for every write to a sealrun service.

A client signs ``Request{action, bodyHash, timestamp, nonce}`` under the sealrun domain
``{name: "sealrun", version: "1", chainId, verifyingContract: hub}``; the service recovers the
signer, checks the timestamp window and consumes the nonce exactly once. The market, store,
scheduler and SMS share this module; the HTTP transport of it lives in
:mod:`sealrun.adapters.web`.

Error codes (all :class:`~sealrun.errors.RequestError`):

- ``REQUEST_UNSIGNED``: a signature, timestamp or nonce is missing.
- ``REQUEST_MALFORMED``: a header is not of the documented shape.
- ``REQUEST_SIGNATURE_INVALID``: the signature does not recover a signer.
- ``REQUEST_EXPIRED``: the timestamp is outside the accepted window around ``now``.
- ``REQUEST_REPLAYED``: the nonce was already used by this signer.
"""

from sealrun.core.requests.signing import (
    REQUEST_TYPES,
    RequestDomain,
    RequestSignature,
    body_hash,
    recover_request_signer,
    request_typed_data,
    sign_request,
)
from sealrun.core.requests.verification import (
    RequestNonceStore,
    RequestVerifier,
    VerifiedRequest,
)

__all__ = [
    "REQUEST_TYPES",
    "RequestDomain",
    "RequestNonceStore",
    "RequestSignature",
    "RequestVerifier",
    "VerifiedRequest",
    "body_hash",
    "recover_request_signer",
    "request_typed_data",
    "sign_request",
]
