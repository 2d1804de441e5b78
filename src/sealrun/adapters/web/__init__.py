"""HTTP plumbing of the FastAPI services (their clients live in :mod:`sealrun.adapters.http`).

- :mod:`.problems`: every error leaves a service as ``application/problem+json`` carrying
  the stable sealrun ``code`` (RFC 9457).
- :mod:`.guards`: request bodies counted as received (``TOO_LARGE``), nesting refused before
  parsing (``REQUEST_TOO_DEEP``), the recursion limit kept safe.
- :mod:`.signing`: reads the signed call of a request (headers of :mod:`sealrun.api.signing`).
"""

from sealrun.adapters.web.guards import (
    MAX_JSON_DEPTH,
    SAFE_RECURSION_LIMIT,
    BodySizeLimit,
    JsonDepthLimit,
    restore_recursion_limit,
)
from sealrun.adapters.web.problems import (
    PROBLEM_JSON,
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
)

__all__ = [
    "MAX_JSON_DEPTH",
    "NONCE_HEADER",
    "PROBLEM_JSON",
    "SAFE_RECURSION_LIMIT",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BodySizeLimit",
    "JsonDepthLimit",
    "Problem",
    "SignedCall",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
    "read_signed_call",
    "restore_recursion_limit",
]
