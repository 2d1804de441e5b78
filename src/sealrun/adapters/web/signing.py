"""The server half of signed requests: a FastAPI dependency reading the signed call.

The header grammar and the action are the wire contract's (:mod:`sealrun.api.signing`);
this module only adds what needs FastAPI.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from sealrun.api.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_signature_headers,
    request_action,
)
from sealrun.core.requests import RequestSignature

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignedCall",
    "read_signed_call",
]


@dataclass(frozen=True)
class SignedCall:
    """An HTTP request as the verifier needs it: action, raw body and signature triple."""

    action: str
    body: bytes
    signature: RequestSignature


async def read_signed_call(request: Request) -> SignedCall:
    """FastAPI dependency: the signed call of the current request (the body is cached)."""
    body = await request.body()
    return SignedCall(
        action=request_action(request.method, request.url.path, request.url.query),
        body=body,
        signature=parse_signature_headers(request.headers),
    )
