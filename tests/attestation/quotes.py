"""Take real DCAP quotes apart and put them back together in other versions and shapes.

Intel's signatures cannot be re-made, so quotes assembled here do not verify; they exercise the
layout parser (every version, body and certification data type) with real bytes in every field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from pathlib import Path

SGX_QUOTE = "sgx/dcap-qvl/sgx_quote"  # v3, SGX, certification data 5
TDX_V4_QUOTE = "tdx/dcap-qvl/tdx_quote"  # v4, TD 1.0, 6 wrapping 5, 70 zero bytes after it
TDX_V5_QUOTE = "tdx/dcap-qvl/tdx_quote_outdated"  # v5, TD 1.5, 6 wrapping 5

BODY_TYPES = {"SGX": 1, "TD10": 2, "TD15": 3}


@dataclass(frozen=True)
class QuoteParts:
    """The pieces of a quote: enough to re-assemble it as v3, v4 or v5."""

    header: bytes  # 48 bytes; version and TEE type are rewritten by assemble()
    kind: str  # SGX, TD10 or TD15
    body: bytes
    signature: bytes  # ECDSA signature + attestation key (128 bytes)
    qe_block: bytes  # QE report, its signature, QE auth data (with its u16 size)
    certification: tuple[int, bytes]  # the innermost certification data (type, data)

    def assemble(
        self,
        version: int,
        *,
        certification: tuple[int, bytes] | None = None,
        outer_type: int = 6,
        body_type: int | None = None,
        tee_type: int | None = None,
    ) -> bytes:
        """Build a quote of ``version`` from these parts (v4/v5 wrap the QE block in ``outer_type``)."""
        kind_type, data = certification or self.certification
        inner = struct.pack("<HI", kind_type, len(data)) + data
        if version == 3:
            signature_data = self.signature + self.qe_block + inner
        else:
            wrapped = self.qe_block + inner
            signature_data = self.signature + struct.pack("<HI", outer_type, len(wrapped)) + wrapped
        tee = tee_type if tee_type is not None else (0 if self.kind == "SGX" else 0x81)
        header = struct.pack("<HHI", version, 2, tee) + self.header[8:]
        if version == 5:
            described = body_type if body_type is not None else BODY_TYPES[self.kind]
            header += struct.pack("<HI", described, len(self.body))
        return header + self.body + struct.pack("<I", len(signature_data)) + signature_data


def split(quote: bytes) -> QuoteParts:
    """Take a real, well-formed quote apart."""
    version, _key, tee_type = struct.unpack_from("<HHI", quote, 0)
    if version == 5:
        body_type, size = struct.unpack_from("<HI", quote, 48)
        kind = {value: key for key, value in BODY_TYPES.items()}[body_type]
        start = 54
    else:
        kind, size, start = ("TD10", 584, 48) if tee_type == 0x81 else ("SGX", 384, 48)
    body = quote[start : start + size]
    at = start + size + 4
    signature = quote[at : at + 128]
    at += 128
    if version != 3:
        at += 6  # the type-6 header
    auth_size = struct.unpack_from("<H", quote, at + 448)[0]
    qe_block = quote[at : at + 450 + auth_size]
    at += 450 + auth_size
    cert_type, cert_size = struct.unpack_from("<HI", quote, at)
    return QuoteParts(
        quote[:48], kind, body, signature, qe_block, (cert_type, quote[at + 6 : at + 6 + cert_size])
    )


def real(vectors_dir: Path, name: str) -> bytes:
    """The bytes of a real quote from the shared vectors."""
    return (vectors_dir / name).read_bytes()


def as_kind(parts: QuoteParts, kind: str) -> QuoteParts:
    """The same parts with a TD 1.0 body grown to TD 1.5 (or a TD 1.5 body cut to 1.0)."""
    if kind == "TD15" and parts.kind == "TD10":
        return replace(parts, kind="TD15", body=parts.body + bytes(range(16)) + b"\x5a" * 48)
    if kind == "TD10" and parts.kind == "TD15":
        return replace(parts, kind="TD10", body=parts.body[:584])
    return parts
