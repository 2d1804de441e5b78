"""The age v1 header: version line, recipient stanzas, and the HMAC footer.

Hazardous layer: these functions parse and build bytes; they do not decide whether a key
fits. The grammar (age-encryption.org/v1)::

    age-encryption.org/v1\\n
    -> TYPE ARG...\\n
    BASE64 BODY, 64 columns per line, the last line shorter (possibly empty)\\n
    ...
    --- BASE64(HMAC-SHA256(HKDF(file_key, "", "header"), header up to "---"))\\n

Parsing is strict and canonical (unpadded standard base64, exact line lengths), so one
byte of damage never parses as a different valid header. Errors (:class:`SealError`):
``SEAL_NOT_SEALED`` (not age at all, or ASCII-armored), ``SEAL_VERSION_UNSUPPORTED``
(another ``age-encryption.org/`` version), ``SEAL_TRUNCATED`` (the input ends inside the
header), ``SEAL_TAMPERED`` (the header is malformed or too large).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from sealrun.errors import SealError

__all__ = [
    "MAC_SIZE",
    "VERSION_LINE",
    "Header",
    "Stanza",
    "b64decode",
    "b64encode",
    "build_header",
    "parse_header",
]

VERSION_LINE = b"age-encryption.org/v1"
_PREFIX = b"age-encryption.org/"
_ARMOR = b"-----BEGIN AGE ENCRYPTED FILE-----"
_FOOTER = b"---"
MAC_SIZE = 32
_FOOTER_LENGTH = len(b"--- ") + 43  # 43 = unpadded base64 of the 32-byte MAC
_COLUMNS = 64
# age sets no limit; ours keeps a hostile header from exhausting memory. Real headers with
# a few hundred recipients stay far below it.
MAX_HEADER_BYTES = 1 << 20


def b64encode(data: bytes) -> bytes:
    """Standard base64 without padding, as age writes it."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Decode unpadded, canonical standard base64, or raise ``SEAL_TAMPERED``."""
    if b"=" in text or b"\r" in text or b"\n" in text:
        raise _malformed("padded or wrapped base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("invalid base64") from None
    if b64encode(data) != text:
        raise _malformed("non-canonical base64")
    return data


def _malformed(what: str) -> SealError:
    return SealError(f"The sealed header is malformed ({what}): the data was altered.", code="SEAL_TAMPERED")


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: a type, its arguments, and its body (already base64-decoded)."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        """The stanza's canonical bytes, body wrapped at 64 columns with a short last line."""
        line = b"-> " + " ".join((self.type, *self.args)).encode("ascii") + b"\n"
        body = b64encode(self.body)
        lines = [body[index : index + _COLUMNS] for index in range(0, len(body), _COLUMNS)]
        if not lines or len(lines[-1]) == _COLUMNS:
            lines.append(b"")
        return line + b"".join(part + b"\n" for part in lines)


@dataclass(frozen=True)
class Header:
    """A parsed header: its stanzas, its MAC, and the exact bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes

    @property
    def size(self) -> int:
        """Length of the header on the wire, footer line included."""
        return len(self.mac_input) + 1 + len(b64encode(self.mac)) + 1


def build_header(stanzas: tuple[Stanza, ...], mac_for: Callable[[bytes], bytes]) -> bytes:
    """Serialize a header; ``mac_for(mac_input)`` computes the footer's HMAC."""
    mac_input = VERSION_LINE + b"\n" + b"".join(stanza.encode() for stanza in stanzas) + _FOOTER
    return mac_input + b" " + b64encode(mac_for(mac_input)) + b"\n"


def _is_vchar_arg(arg: bytes) -> bool:
    return bool(arg) and all(0x21 <= byte <= 0x7E for byte in arg)


def _check_version(data: bytes, *, complete: bool) -> None:
    line, newline, _ = data.partition(b"\n")
    if line == VERSION_LINE and newline:
        return
    if not data:
        raise SealError("The input is empty: it is not sealed data.", code="SEAL_NOT_SEALED")
    if data[: len(_ARMOR)] == _ARMOR[: len(data)]:
        raise SealError(
            "The input is ASCII-armored age; remove the armor with `age -d` first.",
            code="SEAL_NOT_SEALED",
        )
    if not newline and (VERSION_LINE + b"\n").startswith(data):
        if complete:
            raise SealError(
                "The sealed data ends inside its header: it was truncated.", code="SEAL_TRUNCATED"
            )
        return
    if newline and line.startswith(_PREFIX):
        raise SealError(
            f"Unsupported sealed format version {line[:64].decode('ascii', 'replace')!r}; "
            "this build reads age-encryption.org/v1.",
            code="SEAL_VERSION_UNSUPPORTED",
        )
    raise SealError("The input is not sealed data (no age-encryption.org/v1 header).", code="SEAL_NOT_SEALED")


def parse_header(data: bytes, *, complete: bool) -> Header | None:
    """Parse a header from the start of ``data``.

    Args:
        data: the first bytes of the input (possibly more than the header).
        complete: True when ``data`` is everything the input holds (EOF reached).

    Returns:
        The header, or None when more bytes are needed (only when ``complete`` is False).

    Raises:
        SealError: see the module docstring for the codes.
    """
    _check_version(data, complete=complete)
    position = len(VERSION_LINE) + 1
    stanzas: list[Stanza] = []
    while True:
        if data.startswith(_FOOTER, position):
            # The footer has a fixed length, so a damaged end is seen as damage, not truncation.
            end = position + _FOOTER_LENGTH
            if len(data) <= end:
                _need_more(data, complete=complete)
                return None
            if data[end] != 0x0A:
                raise _malformed("bad footer")
            return _footer(data, position, data[position:end], stanzas)
        end = data.find(b"\n", position)
        if end < 0:
            _need_more(data, complete=complete)
            return None
        line = data[position:end]
        if not line.startswith(b"-> "):
            raise _malformed("expected a stanza or the footer")
        args = line[3:].split(b" ")
        if not all(_is_vchar_arg(arg) for arg in args):
            raise _malformed("bad stanza arguments")
        body_parts: list[bytes] = []
        position = end + 1
        while True:
            end = data.find(b"\n", position)
            if end < 0:
                _need_more(data, complete=complete)
                return None
            part = data[position:end]
            position = end + 1
            if len(part) > _COLUMNS:
                raise _malformed("stanza body line too long")
            body_parts.append(part)
            if len(part) < _COLUMNS:
                break
        body = b64decode(b"".join(body_parts))
        stanzas.append(Stanza(args[0].decode("ascii"), tuple(arg.decode("ascii") for arg in args[1:]), body))


def _need_more(data: bytes, *, complete: bool) -> None:
    if complete:
        raise SealError("The sealed data ends inside its header: it was truncated.", code="SEAL_TRUNCATED")
    if len(data) > MAX_HEADER_BYTES:
        raise _malformed(f"header larger than {MAX_HEADER_BYTES} bytes")


def _footer(data: bytes, position: int, line: bytes, stanzas: list[Stanza]) -> Header:
    if not line.startswith(b"--- "):
        raise _malformed("bad footer")
    if not stanzas:
        raise _malformed("no recipient stanza")
    mac = b64decode(line[4:])
    if len(mac) != MAC_SIZE:
        raise _malformed("bad MAC length")
    return Header(stanzas=tuple(stanzas), mac=mac, mac_input=data[: position + len(_FOOTER)])
