"""Certificates from evidence, parsed whole before any check reads them.

`cryptography` parses a certificate's names and extensions lazily, and each malformed part
raises its own exception type when first read: ``ValueError``, ``KeyError`` for a string of
an unknown ASN.1 tag, ``DuplicateExtension``, ``UnsupportedGeneralNameType``, a warning for
a name attribute of invalid length (and ``InvalidVersion`` already at load). The verifiers
call :func:`parse_fully` right after loading and catch :data:`PARSE_ERRORS`, so a hostile
certificate is refused with the verifier's code instead of escaping as a library exception
in the middle of the chain checks.
"""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

__all__ = ["PARSE_ERRORS", "parse_fully"]

PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    KeyError,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
    UserWarning,
)
"""What loading or fully parsing an untrusted certificate may raise."""


def parse_fully(certificate: x509.Certificate) -> None:
    """Read every field a verifier uses, so each malformed part raises here (see module doc)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a name attribute of invalid length: refuse
        _ = (certificate.subject, certificate.issuer)
    _ = (certificate.extensions, certificate.public_key())
    _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
