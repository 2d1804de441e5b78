"""HTTP plumbing shared by the FastAPI services and their clients.

- :mod:`.problems`: every error leaves a service as ``application/problem+json`` carrying
  the stable sealrun ``code`` (RFC 9457).
- :mod:`.signing`: the HTTP transport of :mod:`sealrun.core.requests` (headers, action).
"""

from sealrun.adapters.web.problems import (
    PROBLEM_JSON,
    BodySizeLimit,
    Problem,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from sealrun.adapters.web.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedCall,
    read_signed_call,
    request_action,
    signature_headers,
)

__all__ = [
    "NONCE_HEADER",
    "PROBLEM_JSON",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BodySizeLimit",
    "Problem",
    "SignedCall",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
    "read_signed_call",
    "request_action",
    "signature_headers",
]
