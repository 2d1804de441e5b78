"""Signed requests over HTTP: three headers and the ``"<METHOD> <path>[?query]"`` action.

Headers: ``Sealrun-Timestamp`` (decimal UNIX seconds), ``Sealrun-Nonce`` (``0x`` + 32 bytes
hex) and ``Sealrun-Signature`` (``0x`` + 65 bytes hex) carry the
:class:`~sealrun.core.requests.RequestSignature` of the EIP-712 ``Request`` whose ``action``
is :func:`request_action` and whose ``bodyHash`` is keccak256 of the exact body bytes, or of
the empty string for a content-addressed blob (its path already names the sha256 of its
bytes). The path includes the query string, so a signed ``GET`` cannot be replayed against
other parameters. The one scheme is described in ``docs/formats.md``; clients sign with
:class:`sealrun.adapters.http.SignedRequestAuth`, services read with
:func:`sealrun.adapters.web.read_signed_call`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sealrun.core.requests import RequestSignature
from sealrun.core.tasks.signatures import is_canonical_signature
from sealrun.errors import RequestError

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "check_signature_shape",
    "parse_signature_headers",
    "request_action",
    "signature_headers",
]

TIMESTAMP_HEADER = "Sealrun-Timestamp"
NONCE_HEADER = "Sealrun-Nonce"
SIGNATURE_HEADER = "Sealrun-Signature"
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,19}$")


def request_action(method: str, path: str, query: str = "") -> str:
    """Return the signed action of an HTTP request: ``"PUT /v1/x?y=1"``."""
    return f"{method.upper()} {path}" + (f"?{query}" if query else "")


def signature_headers(signed: RequestSignature) -> dict[str, str]:
    """The headers a client attaches to a signed request."""
    return {
        TIMESTAMP_HEADER: str(signed.timestamp),
        NONCE_HEADER: "0x" + signed.nonce.hex(),
        SIGNATURE_HEADER: "0x" + signed.signature.hex(),
    }


def parse_signature_headers(headers: Mapping[str, str]) -> RequestSignature:
    """Read the signature triple from request headers.

    Raises:
        RequestError: ``REQUEST_UNSIGNED`` if a header is missing, ``REQUEST_MALFORMED`` if
            one is not of the documented shape, ``REQUEST_SIGNATURE_INVALID`` if the
            signature is not canonical.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    values = [lowered.get(name.lower()) for name in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)]
    timestamp, nonce, signature = values
    if timestamp is None or nonce is None or signature is None:
        raise RequestError(
            f"this request must be signed ({TIMESTAMP_HEADER}, {NONCE_HEADER}, {SIGNATURE_HEADER})",
            code="REQUEST_UNSIGNED",
        )
    if not (_TIMESTAMP.match(timestamp) and _NONCE.match(nonce) and _SIGNATURE.match(signature)):
        raise RequestError("signature headers are malformed", code="REQUEST_MALFORMED")
    raw = bytes.fromhex(signature[2:])
    check_signature_shape(raw)
    return RequestSignature(timestamp=int(timestamp), nonce=bytes.fromhex(nonce[2:]), signature=raw)


def check_signature_shape(signature: bytes) -> None:
    """Refuse a 65-byte ``r ‖ s ‖ v`` that no wallet produces, before recovering anything.

    ``eth_account`` recovers *some* address from almost any 65 bytes (it reads any ``v`` as
    an EIP-155 value), so random bytes used to authenticate as a random account. A signature
    is taken only with ``v`` 27 or 28 (0/1 from some hardware wallets), ``0 < r < n`` and a
    low ``s`` (EIP-2, no malleable twin). Random bytes pass this with probability ~0.4 %;
    those recover an address nobody holds the key of, which owns nothing.

    Raises:
        RequestError: ``REQUEST_SIGNATURE_INVALID``.
    """
    if not is_canonical_signature(signature, recovery_ids=(0, 1, 27, 28)):
        raise RequestError(
            "the signature is not a canonical secp256k1 signature (r, s low, v 27/28)",
            code="REQUEST_SIGNATURE_INVALID",
        )
