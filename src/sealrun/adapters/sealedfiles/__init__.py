"""Sealed data on disk: seal files and folders, open them safely, read and write key files.

Path-level operations over :mod:`sealrun.core.sealing` (which only sees streams):
temporary outputs renamed into place only when complete and authentic, 0600 identity files,
safe unpacking of sealed folders.
"""

from sealrun.adapters.sealedfiles.files import OpenedPath, SealedFile, open_path, seal_path
from sealrun.adapters.sealedfiles.keyfiles import read_identity, read_recipient, write_identity

__all__ = [
    "OpenedPath",
    "SealedFile",
    "open_path",
    "read_identity",
    "read_recipient",
    "seal_path",
    "write_identity",
]
