"""Sealed data: age v1 (X25519) keys, streaming seal/open, deterministic folder archives.

This is the recipe layer; the raw format pieces live in :mod:`sealrun.core.sealing.hazmat`.
Pure: it reads and writes the streams it is given and touches no disk itself.
"""

from sealrun.core.sealing.keys import Identity, Recipient
from sealrun.core.sealing.streams import (
    OpenInfo,
    Progress,
    SealInfo,
    open_bytes,
    open_stream,
    seal_bytes,
    seal_stream,
)

__all__ = [
    "Identity",
    "OpenInfo",
    "Progress",
    "Recipient",
    "SealInfo",
    "open_bytes",
    "open_stream",
    "seal_bytes",
    "seal_stream",
]
