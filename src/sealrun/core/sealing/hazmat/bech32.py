"""Bech32 (BIP 173) as age uses it: the original checksum, no 90-character length limit.

age encodes recipients as ``age1...`` (lowercase) and identities as
``AGE-SECRET-KEY-1...`` (uppercase). Mixed case is refused, as the spec requires.
"""

from __future__ import annotations

from sealrun.errors import SealError

__all__ = ["decode", "encode"]

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {char: index for index, char in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]


def _convert_bits(data: bytes | list[int], source: int, target: int, *, pad: bool) -> list[int]:
    accumulator = 0
    bits = 0
    out: list[int] = []
    mask = (1 << target) - 1
    for value in data:
        accumulator = (accumulator << source) | value
        bits += source
        while bits >= target:
            bits -= target
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (target - bits)) & mask)
    elif bits >= source or (accumulator << (target - bits)) & mask:
        raise SealError("bech32: non-zero padding", code="SEAL_BAD_KEY")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under the human-readable part ``hrp`` (lowercase result).

    Args:
        hrp: the human-readable prefix, e.g. ``"age"``.
        data: the payload bytes.

    Returns:
        The bech32 string, lowercase.
    """
    hrp = hrp.lower()
    words = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_expand_hrp(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - index)) & 31 for index in range(6)]
    return hrp + "1" + "".join(_CHARSET[word] for word in words + checksum)


def decode(text: str) -> tuple[str, bytes]:
    """Decode a bech32 string into its (lowercase) human-readable part and payload.

    Args:
        text: the bech32 string, all lowercase or all uppercase.

    Returns:
        ``(hrp, data)``.

    Raises:
        SealError: ``SEAL_BAD_KEY`` on mixed case, bad characters, or a bad checksum.
    """
    if text.lower() != text and text.upper() != text:
        raise SealError("bech32: mixed case", code="SEAL_BAD_KEY")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1 or separator + 7 > len(text):
        raise SealError("bech32: missing separator or checksum", code="SEAL_BAD_KEY")
    hrp = text[:separator]
    if any(not 33 <= ord(char) <= 126 for char in hrp):
        raise SealError("bech32: bad prefix", code="SEAL_BAD_KEY")
    try:
        words = [_VALUES[char] for char in text[separator + 1 :]]
    except KeyError:
        raise SealError("bech32: invalid character", code="SEAL_BAD_KEY") from None
    if _polymod([*_expand_hrp(hrp), *words]) != 1:
        raise SealError("bech32: bad checksum", code="SEAL_BAD_KEY")
    return hrp, bytes(_convert_bits(words[:-6], 5, 8, pad=False))
