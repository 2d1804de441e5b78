"""Task receipts: the signed account of one task, verifiable by anyone (``docs/formats.md``).

:mod:`.document` is the format (schema, canonical encoding, digest, the signed preimage);
:mod:`.checks` the pure verification checks ``sealrun verify`` reports, one stable code each.
"""

from sealrun.core.receipts.document import (
    DIGEST_DOMAIN,
    MAX_RECEIPT_BYTES,
    RECEIPT_VERSION,
    SCHEMA,
    Receipt,
    build_receipt,
    canonical_bytes,
    params_digest,
    parse_receipt,
    receipt_digest,
    signed_preimage,
)

__all__ = [
    "DIGEST_DOMAIN",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_VERSION",
    "SCHEMA",
    "Receipt",
    "build_receipt",
    "canonical_bytes",
    "params_digest",
    "parse_receipt",
    "receipt_digest",
    "signed_preimage",
]
