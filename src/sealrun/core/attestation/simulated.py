"""Simulated evidence: what a simulated TEE produces, and its verifier.

Our machines have no TEE hardware, so the enclave runtime can run in a *simulated* TEE. Its
evidence is claims signed by a per-deployment **simulator key** (Ed25519), generated when the
deployment is set up and never shipped. The simulator key is its own trust root: a simulated
verifier exists only when it is constructed with that key's public half, every real verifier
rejects simulated evidence, and the claims it mints say ``simulated=True`` (the policy refuses
them unless it names ``simulated`` explicitly).

Wire format, version 1 (all integers big-endian)::

    offset  size  field
    0       11    magic  b"sealrun-sim"
    11      1     version = 1
    12      2     N = body length (1..16384)
    14      N     body: UTF-8 JSON object (exactly these keys)
    14+N    64    Ed25519 signature by the simulator key over bytes [0, 14+N)

    body = {"key_id": hex(sha256(raw 32-byte simulator public key)),
            "measurement": hex (1-64 bytes), "signer": hex (1-64 bytes) | null,
            "product_id": 0..65535 | null, "svn": 0..65535 | null, "debug": bool,
            "tcb_status": str, "advisories": [str], "report_data": hex (64 bytes),
            "extra": {name: hex}}

Nothing may follow the signature. Hex is lowercase without ``0x``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealrun.core.attestation.claims import TCB_UP_TO_DATE, Claims, _mint_claims
from sealrun.core.attestation.codes import (
    ATTEST_DEBUG,
    ATTEST_MALFORMED,
    ATTEST_SIGNATURE,
    ATTEST_TYPE_MISMATCH,
    ATTEST_UNTRUSTED_ROOT,
)
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.errors import AttestationError

if TYPE_CHECKING:
    from sealrun.core.jsontypes import JsonObject

__all__ = [
    "SIMULATED_MAGIC",
    "SIMULATED_VERSION",
    "SimulatedVerifier",
    "SimulatorKey",
    "SimulatorPublicKey",
    "make_simulated_evidence",
]

SIMULATED_MAGIC = b"sealrun-sim"
SIMULATED_VERSION = 1
_HEADER = struct.Struct(">11sBH")
_SIGNATURE_SIZE = 64
_MAX_BODY = 16384
_BODY_KEYS = frozenset(
    {"key_id", "measurement", "signer", "product_id", "svn", "debug", "tcb_status", "advisories",
     "report_data", "extra"}
)  # fmt: skip
_HEX = re.compile(r"^(?:[0-9a-f]{2})*$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _malformed(message: str) -> AttestationError:
    return AttestationError(f"simulated evidence: {message}", code=ATTEST_MALFORMED)


@dataclass(frozen=True)
class SimulatorPublicKey:
    """The public half of a simulator key: the trust root of simulated evidence."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 32:
            raise AttestationError("a simulator public key is 32 raw bytes", code=ATTEST_MALFORMED)
        try:
            Ed25519PublicKey.from_public_bytes(self.raw)
        except ValueError:
            raise AttestationError("not an Ed25519 public key", code=ATTEST_MALFORMED) from None

    @property
    def key_id(self) -> bytes:
        """sha256 of the raw public key: names the key inside simulated evidence."""
        return hashlib.sha256(self.raw).digest()

    def to_pem(self) -> bytes:
        """The key as a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo), readable by openssl."""
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def parse(cls, data: bytes) -> SimulatorPublicKey:
        """Read a public key from PEM (``PUBLIC KEY``) or 64 hex characters (raw key).

        Raises:
            AttestationError: ``ATTEST_MALFORMED`` if ``data`` is neither.
        """
        text = data.strip()
        if re.fullmatch(rb"[0-9a-fA-F]{64}", text):
            return cls(bytes.fromhex(text.decode("ascii")))
        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, TypeError):
            raise AttestationError(
                "simulator public key must be a PEM PUBLIC KEY or 64 hex characters", code=ATTEST_MALFORMED
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise AttestationError("simulator public key is not Ed25519", code=ATTEST_MALFORMED)
        return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


@dataclass(frozen=True)
class SimulatorKey:
    """A per-deployment simulator signing key (Ed25519). Generate it; never ship it."""

    _private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, *, entropy: Callable[[int], bytes] = secrets.token_bytes) -> SimulatorKey:
        """Make a fresh key from 32 bytes of ``entropy`` (injectable for reproducible tests)."""
        return cls.from_private_bytes(entropy(32))

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> SimulatorKey:
        """Load a key from its 32-byte raw private seed.

        Raises:
            AttestationError: ``ATTEST_MALFORMED`` if ``seed`` is not 32 bytes.
        """
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise AttestationError("a simulator private key is 32 raw bytes", code=ATTEST_MALFORMED)
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def parse(cls, data: bytes) -> SimulatorKey:
        """Read a key written by :meth:`to_pem` (unencrypted PKCS#8 PEM).

        Raises:
            AttestationError: ``ATTEST_MALFORMED`` if ``data`` is not an Ed25519 private key.
        """
        try:
            key = serialization.load_pem_private_key(data.strip(), password=None)
        except (ValueError, TypeError):
            raise AttestationError("not a PEM simulator private key", code=ATTEST_MALFORMED) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AttestationError("simulator private key is not Ed25519", code=ATTEST_MALFORMED)
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (store it with mode 0600)."""
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def private_bytes(self) -> bytes:
        """The 32-byte raw private seed."""
        return self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    @property
    def public_key(self) -> SimulatorPublicKey:
        """The public half, to configure a :class:`SimulatedVerifier` with."""
        return SimulatorPublicKey(
            self._private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (64-byte Ed25519 signature)."""
        return self._private.sign(message)


def make_simulated_evidence(
    simulator_key: SimulatorKey,
    *,
    measurement: bytes,
    report_data: bytes,
    debug: bool = False,
    signer: bytes | None = None,
    product_id: int | None = None,
    svn: int | None = None,
    tcb_status: str = TCB_UP_TO_DATE,
    advisories: Sequence[str] = (),
    extra: Mapping[str, bytes] | None = None,
) -> Evidence:
    """Produce simulated evidence (wire format v1) signed by ``simulator_key``.

    Args:
        simulator_key: the deployment's simulator key.
        measurement: the enclave's code identity (the app fingerprint), 1-64 bytes.
        report_data: 64 bytes, normally :func:`~sealrun.core.attestation.report_data_for`.
        debug: claim a debug enclave (verifiers then reject it unless told to allow debug).
        signer: optional signer identity, 1-64 bytes.
        product_id: optional product id, 0-65535.
        svn: optional security version number, 0-65535.
        tcb_status: the TCB status to claim (default ``UpToDate``).
        advisories: advisory ids to claim.
        extra: extra named registers (names ``[A-Za-z0-9_.:-]{1,64}``), bytes values.

    Returns:
        ``Evidence(type=simulated)`` ready to send to the SMS.

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` if a field is out of range.
    """
    body = {
        "key_id": simulator_key.public_key.key_id.hex(),
        "measurement": _hex_field(measurement, "measurement", 1, 64),
        "signer": None if signer is None else _hex_field(signer, "signer", 1, 64),
        "product_id": _optional_u16(product_id, "product_id"),
        "svn": _optional_u16(svn, "svn"),
        "debug": bool(debug),
        "tcb_status": _label(tcb_status, "tcb_status"),
        "advisories": [_label(advisory, "advisory") for advisory in advisories],
        "report_data": _hex_field(report_data, "report_data", 64, 64),
        "extra": {
            _label(name, "extra name"): _hex_field(value, name, 0, 64)
            for name, value in (extra or {}).items()
        },
    }
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    if len(encoded) > _MAX_BODY:
        raise _malformed("body too large")
    signed = _HEADER.pack(SIMULATED_MAGIC, SIMULATED_VERSION, len(encoded)) + encoded
    return Evidence(type=EvidenceType.SIMULATED, payload=signed + simulator_key.sign(signed))


def _hex_field(value: bytes, what: str, low: int, high: int) -> str:
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise _malformed(f"{what} must be {low}-{high} bytes")
    return value.hex()


def _optional_u16(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise _malformed(f"{what} must be 0-65535")
    return value


def _label(value: object, what: str) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise _malformed(f"{what} must match [A-Za-z0-9_.:-]{{1,64}}")
    return value


def _bytes_of(value: object, what: str, low: int, high: int) -> bytes:
    if not isinstance(value, str) or not _HEX.match(value) or not low <= len(value) // 2 <= high:
        raise _malformed(f"{what} must be lowercase hex of {low}-{high} bytes")
    return bytes.fromhex(value)


@dataclass(frozen=True)
class SimulatedVerifier:
    """Verifies simulated evidence against one deployment's simulator public key.

    Args:
        simulator_public_key: the only key whose evidence this verifier accepts.
        allow_debug: return claims for debug evidence instead of raising ``ATTEST_DEBUG``.
    """

    simulator_public_key: SimulatorPublicKey
    allow_debug: bool = field(default=False, kw_only=True)
    evidence_type: EvidenceType = field(default=EvidenceType.SIMULATED, init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.simulator_public_key, SimulatorPublicKey):
            raise TypeError("SimulatedVerifier needs an explicit SimulatorPublicKey")

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify simulated evidence and mint its claims (``simulated=True``).

        Args:
            evidence: evidence declared ``simulated``.
            now: UNIX seconds (simulated evidence carries no validity period; accepted for the
                common verifier interface).

        Returns:
            The claims, ``tee=simulated``, ``simulated=True``.

        Raises:
            AttestationError: ``ATTEST_TYPE_MISMATCH``, ``ATTEST_MALFORMED``,
                ``ATTEST_UNTRUSTED_ROOT`` (another deployment's key), ``ATTEST_SIGNATURE``,
                ``ATTEST_DEBUG``.
        """
        del now  # nothing in simulated evidence expires; freshness comes from the nonce
        if evidence.type is not EvidenceType.SIMULATED:
            raise AttestationError(
                f"the simulated verifier does not take {evidence.type.value} evidence",
                code=ATTEST_TYPE_MISMATCH,
            )
        body, signed, signature = _split(evidence.payload)
        key_id = _bytes_of(body["key_id"], "key_id", 32, 32)
        try:
            Ed25519PublicKey.from_public_bytes(self.simulator_public_key.raw).verify(signature, signed)
        except InvalidSignature:
            if key_id != self.simulator_public_key.key_id:
                raise AttestationError(
                    "simulated evidence is signed by another simulator key than this deployment's",
                    code=ATTEST_UNTRUSTED_ROOT,
                ) from None
            raise AttestationError("simulated evidence signature is invalid", code=ATTEST_SIGNATURE) from None
        if key_id != self.simulator_public_key.key_id:
            raise AttestationError(
                "simulated evidence names another simulator key", code=ATTEST_UNTRUSTED_ROOT
            )
        claims = _claims_from(body)
        if claims.debug and not self.allow_debug:
            raise AttestationError("simulated evidence claims a debug enclave", code=ATTEST_DEBUG)
        return claims


def _split(payload: bytes) -> tuple[JsonObject, bytes, bytes]:
    if len(payload) < _HEADER.size + _SIGNATURE_SIZE:
        raise _malformed("too short")
    magic, version, length = _HEADER.unpack_from(payload)
    if magic != SIMULATED_MAGIC:
        raise _malformed("bad magic (not simulated evidence)")
    if version != SIMULATED_VERSION:
        raise _malformed(f"unsupported version {version}")
    if not 1 <= length <= _MAX_BODY or len(payload) != _HEADER.size + length + _SIGNATURE_SIZE:
        raise _malformed("length does not match the body and signature")
    signed = payload[: _HEADER.size + length]
    try:
        body = json.loads(signed[_HEADER.size :].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _malformed("body is not UTF-8 JSON") from None
    if not isinstance(body, dict) or set(body) != _BODY_KEYS:
        raise _malformed("body must have exactly the version-1 keys")
    return body, signed, payload[_HEADER.size + length :]


def _claims_from(body: JsonObject) -> Claims:
    measurement = _bytes_of(body["measurement"], "measurement", 1, 64)
    report_data = _bytes_of(body["report_data"], "report_data", 64, 64)
    debug, advisories, extra = body["debug"], body["advisories"], body["extra"]
    if not isinstance(debug, bool):
        raise _malformed("debug must be a boolean")
    if not isinstance(advisories, list) or not isinstance(extra, dict):
        raise _malformed("advisories must be a list and extra an object")
    return _mint_claims(
        tee=EvidenceType.SIMULATED,
        measurement=measurement,
        signer=None if body["signer"] is None else _bytes_of(body["signer"], "signer", 1, 64),
        product_id=_optional_u16(body["product_id"], "product_id"),
        svn=_optional_u16(body["svn"], "svn"),
        debug=debug,
        tcb_status=_label(body["tcb_status"], "tcb_status"),
        advisories=[_label(advisory, "advisory") for advisory in advisories],
        report_data=report_data,
        extra={_label(name, "extra name"): _bytes_of(value, name, 0, 64) for name, value in extra.items()},
        simulated=True,
    )
