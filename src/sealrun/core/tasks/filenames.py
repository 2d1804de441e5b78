"""The one rule for a dataset's file name, the name an app finds it under in ``IEXEC_IN``.

A dataset's owner chooses it when she pushes the dataset (``sealrun tee encryptedpush``,
``sealrun app test --input``): by default the pushed file's or folder's own name. It travels
to the enclave in the secrets bundle, never on chain (a file name can be as private as the
file), and becomes ``IEXEC_DATASET_FILENAME``. Because the enclave writes a file under that
name, it must be one plain name: valid UTF-8, 1 to :data:`MAX_DATASET_FILENAME_BYTES` bytes,
no ``/``, ``\\`` or NUL, no control character, not ``.`` or ``..``.
"""

from __future__ import annotations

from sealrun.errors import ConfigError

__all__ = ["MAX_DATASET_FILENAME_BYTES", "check_dataset_filename", "folder_dataset_filename"]

MAX_DATASET_FILENAME_BYTES = 255
_ZIP = ".zip"


def check_dataset_filename(name: str) -> str:
    """Return ``name`` if it is a valid dataset file name (see the module docstring).

    Raises:
        ConfigError: ``DATASET_FILENAME_INVALID``, saying which rule the name breaks.
    """

    def invalid(why: str) -> ConfigError:
        return ConfigError(f"dataset file name {name!r} {why}", code="DATASET_FILENAME_INVALID")

    try:
        # A name read from a non-UTF-8 file system arrives as surrogate escapes: strict refuses it.
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise invalid("is not UTF-8") from error
    if size == 0:
        raise invalid("is empty")
    if size > MAX_DATASET_FILENAME_BYTES:
        raise invalid(f"is longer than {MAX_DATASET_FILENAME_BYTES} bytes")
    if "/" in name or "\\" in name:
        raise invalid("holds a path separator")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        raise invalid("holds a control character")
    if name in (".", ".."):
        raise invalid("is not a file name")
    return name


def folder_dataset_filename(name: str) -> str:
    """The name a *folder* dataset is delivered under: a ZIP file, so ``name`` ends in ``.zip``.

    iExec never delivers a folder: a dataset of several files (a DataProtector protected
    data, or an archive an owner made) is one ZIP file that the app opens itself.

    Raises:
        ConfigError: ``DATASET_FILENAME_INVALID`` when the name with ``.zip`` is too long.
    """
    return check_dataset_filename(name if name.lower().endswith(_ZIP) else name + _ZIP)
