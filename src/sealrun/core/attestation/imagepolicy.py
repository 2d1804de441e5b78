"""Trusted base images of confidential VMs: which firmware + kernel measurements may run apps.

In a confidential VM the hardware measures the *base image* (TDX: MRTD and RTMR0-2; SEV-SNP:
the launch MEASUREMENT), the same for every app; the app itself is measured into RTMR3 through
the event log (TDX, :mod:`~sealrun.core.attestation.eventlog`) or into HOST_DATA (SEV-SNP). The
operator pins the base images they trust, by name, in one document (TOML or JSON)::

    version = 1

    [[images]]
    name = "sealrun-cvm 2026.12 tdx"
    tee = "tdx-dcap"
    mr_td = "<96 hex digits>"
    rtmr0 = "<96 hex digits>"
    rtmr1 = "<96 hex digits>"
    rtmr2 = "<96 hex digits>"

    [[images]]
    name = "sealrun-cvm 2026.12 snp milan"
    tee = "sev-snp"
    measurement = "<96 hex digits>"

Rules (each violation is ``ATTEST_POLICY_INVALID``): ``version = 1``; 1 to
:data:`MAX_IMAGES` images; a ``tdx-dcap`` image has exactly ``name``, ``tee``, ``mr_td``,
``rtmr0``, ``rtmr1``, ``rtmr2``, a ``sev-snp`` image exactly ``name``, ``tee``,
``measurement``; every register is 48 bytes of hex (``0x`` optional); names are 1-128
printable characters and unique; no two images of one TEE have the same registers (a match
must name one image). A quote whose registers match no image is ``ATTEST_IMAGE_UNTRUSTED``.
"""

from __future__ import annotations

import hmac
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sealrun.core.attestation.codes import ATTEST_IMAGE_UNTRUSTED, ATTEST_POLICY_INVALID
from sealrun.core.attestation.evidence import EvidenceType
from sealrun.errors import AttestationError

__all__ = ["IMAGES_VERSION", "IMAGE_REGISTERS", "MAX_IMAGES", "TrustedImage", "TrustedImages"]

IMAGES_VERSION = 1
MAX_IMAGES = 1000
MAX_DOCUMENT_BYTES = 1 << 20
REGISTER_SIZE = 48
#: The registers that identify a base image, per TEE (in the order they are compared).
IMAGE_REGISTERS: Mapping[EvidenceType, tuple[str, ...]] = MappingProxyType(
    {
        EvidenceType.TDX_DCAP: ("mr_td", "rtmr0", "rtmr1", "rtmr2"),
        EvidenceType.SEV_SNP: ("measurement",),
    }
)
_HEX = re.compile(r"^(?:0x)?((?:[0-9a-fA-F]{2})+)\Z")
_NAME = re.compile(r"^[\x20-\x7e]{1,128}\Z")


def _invalid(message: str) -> AttestationError:
    return AttestationError(f"trusted images: {message}", code=ATTEST_POLICY_INVALID)


def _register(value: object, what: str) -> bytes:
    match = _HEX.match(value) if isinstance(value, str) else None
    if match is None or len(match.group(1)) != 2 * REGISTER_SIZE:
        raise _invalid(f"{what} must be {REGISTER_SIZE} bytes of hex")
    return bytes.fromhex(match.group(1))


@dataclass(frozen=True)
class TrustedImage:
    """One trusted base image: its name, its TEE and the registers that identify it."""

    name: str
    tee: EvidenceType
    registers: Mapping[str, bytes]

    def matches(self, registers: Mapping[str, object]) -> bool:
        """Whether ``registers`` (a quote's) equal this image's, every one (constant time each)."""
        for name, value in self.registers.items():
            theirs = registers.get(name)
            if not isinstance(theirs, bytes) or not hmac.compare_digest(theirs, value):
                return False
        return True


def _image(index: int, raw: object) -> TrustedImage:
    if not isinstance(raw, Mapping):
        raise _invalid(f"image {index} must be a table / object")
    tee_name = raw.get("tee")
    tee = next((kind for kind in IMAGE_REGISTERS if kind.value == tee_name), None)
    if tee is None:
        raise _invalid(f"image {index}: tee must be one of {', '.join(k.value for k in IMAGE_REGISTERS)}")
    names = IMAGE_REGISTERS[tee]
    if set(raw) != {"name", "tee", *names}:
        raise _invalid(f"image {index} ({tee.value}) must have exactly name, tee, {', '.join(names)}")
    name = raw["name"]
    if not isinstance(name, str) or _NAME.match(name) is None:
        raise _invalid(f"image {index}: name must be 1-128 printable ASCII characters")
    registers = {register: _register(raw[register], f"image {name!r}: {register}") for register in names}
    return TrustedImage(name=name, tee=tee, registers=MappingProxyType(registers))


@dataclass(frozen=True)
class TrustedImages:
    """The trusted base images (see the module docs for the document and its rules)."""

    images: tuple[TrustedImage, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.images) <= MAX_IMAGES:
            raise _invalid(f"list 1 to {MAX_IMAGES} images")
        names: set[str] = set()
        identities: set[tuple[EvidenceType, tuple[bytes, ...]]] = set()
        for image in self.images:
            if image.name in names:
                raise _invalid(f"two images are named {image.name!r}")
            names.add(image.name)
            identity = (image.tee, tuple(image.registers[name] for name in IMAGE_REGISTERS[image.tee]))
            if identity in identities:
                raise _invalid(f"image {image.name!r} has the registers of another {image.tee.value} image")
            identities.add(identity)

    @classmethod
    def from_mapping(cls, data: object) -> TrustedImages:
        """Build the list from a parsed document. Raises ``ATTEST_POLICY_INVALID``."""
        if not isinstance(data, Mapping) or set(data) != {"version", "images"}:
            raise _invalid("the document must have exactly version and images")
        version = data["version"]
        if isinstance(version, bool) or version != IMAGES_VERSION:
            raise _invalid(f"version must be {IMAGES_VERSION}")
        images = data["images"]
        if not isinstance(images, list) or len(images) > MAX_IMAGES:
            raise _invalid(f"images must be a list of at most {MAX_IMAGES}")
        return cls(tuple(_image(index, raw) for index, raw in enumerate(images)))

    @classmethod
    def from_text(cls, text: str | bytes) -> TrustedImages:
        """Parse a JSON (starts with ``{``) or else TOML document. Raises ``ATTEST_POLICY_INVALID``."""
        if len(text) > MAX_DOCUMENT_BYTES:
            raise _invalid(f"the document is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            data: Any = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:  # TOMLDecodeError is a ValueError
            raise _invalid(f"not JSON or TOML: {error}") from None
        return cls.from_mapping(data)

    def match(self, tee: EvidenceType, registers: Mapping[str, object]) -> TrustedImage:
        """The trusted image of ``tee`` whose registers equal ``registers``.

        Raises:
            AttestationError: ``ATTEST_IMAGE_UNTRUSTED`` if there is none.
        """
        for image in self.images:
            if image.tee is tee and image.matches(registers):
                return image
        shown = ", ".join(
            f"{name}={value.hex()}" if isinstance(value := registers.get(name), bytes) else f"{name}=?"
            for name in IMAGE_REGISTERS.get(tee, ())
        )
        raise AttestationError(
            f"the base image ({tee.value}: {shown}) is not a trusted image", code=ATTEST_IMAGE_UNTRUSTED
        )
