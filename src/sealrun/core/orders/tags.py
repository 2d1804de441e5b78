"""The tag: a bytes32 bit field saying what a task needs and what a pool offers.

Bit 0 is TEE (every sealrun deal sets it); bits 1-4 name the TEE technology (SGX, TDX,
SEV-SNP, Nitro); bit 8 is GPU. A workerpool must offer every bit the app, the dataset and the
request require (``tag-coverage`` on chain).
"""

from __future__ import annotations

from enum import IntEnum

from sealrun.errors import OrderError

__all__ = ["TEE_TECHNOLOGY_BITS", "TagBit", "make_tag", "missing_bits", "tag_bits", "tag_value"]


class TagBit(IntEnum):
    """The named bits of a tag (bit positions, least significant first)."""

    TEE = 0
    SGX = 1
    TDX = 2
    SEV_SNP = 3
    NITRO = 4
    GPU = 8


#: The bits that name a TEE technology (an app registers a subset of these).
TEE_TECHNOLOGY_BITS = frozenset({TagBit.SGX, TagBit.TDX, TagBit.SEV_SNP, TagBit.NITRO})


def make_tag(*bits: TagBit) -> bytes:
    """Return the 32-byte tag with exactly ``bits`` set."""
    value = 0
    for bit in bits:
        value |= 1 << int(TagBit(bit))
    return value.to_bytes(32, "big")


def tag_value(tag: bytes) -> int:
    """Return the tag as an integer.

    Raises:
        OrderError: ``ORDER_FIELD_INVALID`` if ``tag`` is not 32 bytes.
    """
    if not isinstance(tag, bytes | bytearray) or len(tag) != 32:
        raise OrderError("a tag must be 32 bytes", code="ORDER_FIELD_INVALID")
    return int.from_bytes(tag, "big")


def tag_bits(tag: bytes) -> frozenset[int]:
    """Return the positions of the bits set in ``tag`` (named ones compare equal to TagBit)."""
    value = tag_value(tag)
    return frozenset(bit for bit in range(256) if value >> bit & 1)


def missing_bits(offered: bytes, required: bytes) -> frozenset[int]:
    """Return the bits ``required`` sets that ``offered`` does not (empty when covered)."""
    return tag_bits((tag_value(required) & ~tag_value(offered)).to_bytes(32, "big"))
