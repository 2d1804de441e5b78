"""Sealed data: age v1 (X25519) keys, streaming seal/open, deterministic folder archives.

This is the recipe layer; the raw format pieces live in :mod:`sealrun.core.sealing.hazmat`.
Pure: it reads and writes the streams it is given and touches no disk itself.
"""

from sealrun.core.sealing.archive import ARCHIVE_MARKER, ArchiveEntry, ArchiveReader, is_archive
from sealrun.core.sealing.keys import Identity, Recipient
from sealrun.core.sealing.pipeline import Writable
from sealrun.core.sealing.streams import (
    OpenInfo,
    Progress,
    Readable,
    SealInfo,
    open_bytes,
    open_stream,
    seal_bytes,
    seal_stream,
)
from sealrun.core.sealing.unpacking import DEFAULT_MAX_UNPACKED_SIZE, Member, UnpackRules

__all__ = [
    "ARCHIVE_MARKER",
    "DEFAULT_MAX_UNPACKED_SIZE",
    "ArchiveEntry",
    "ArchiveReader",
    "Identity",
    "Member",
    "OpenInfo",
    "Progress",
    "Readable",
    "Recipient",
    "SealInfo",
    "UnpackRules",
    "Writable",
    "is_archive",
    "open_bytes",
    "open_stream",
    "seal_bytes",
    "seal_stream",
]
