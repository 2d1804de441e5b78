"""Identity and recipient files: the age-keygen text format, written 0600 and atomically.

An identity file is what ``age-keygen`` writes (``age -d -i FILE`` reads it)::

    # created: 2026-11-29T02:41:07Z
    # public key: age1...
    AGE-SECRET-KEY-1...

Error codes: ``KEY_FILE_NOT_FOUND`` / ``KEY_FILE_UNREADABLE`` / ``KEY_FILE_EXISTS``
(:class:`~sealrun.errors.ConfigError`), ``SEAL_BAD_KEY`` (:class:`~sealrun.errors.SealError`)
when the file holds no key, several keys, or a malformed one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path

from sealrun.core.sealing import Identity, Recipient
from sealrun.errors import ConfigError, SealError

__all__ = ["read_identity", "read_recipient", "write_identity"]


def write_identity(path: Path, identity: Identity, *, overwrite: bool = False) -> Path:
    """Write ``identity`` to ``path`` with mode 0600, atomically (temp file, then link/rename).

    Args:
        path: the identity file to create; its folder is created (0700) if missing.
        identity: the key to store.
        overwrite: replace an existing file instead of refusing.

    Returns:
        ``path``.

    Raises:
        ConfigError: ``KEY_FILE_EXISTS`` (and not ``overwrite``), ``KEY_FILE_UNREADABLE`` on I/O errors.
    """
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {identity.recipient}\n{identity}\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as error:
        raise ConfigError(
            f"Cannot write the key file {path}: {error.strerror}.", code="KEY_FILE_UNREADABLE"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:  # mkstemp made it 0600
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if path exists: never clobber a key by accident
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; refusing to overwrite a key.", code="KEY_FILE_EXISTS"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"Cannot write the key file {path}: {error.strerror}.", code="KEY_FILE_UNREADABLE"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return path


def _key_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"The key file {path} does not exist.", code="KEY_FILE_NOT_FOUND") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the key file {path}: {error}.", code="KEY_FILE_UNREADABLE") from None
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_identity(path: Path) -> Identity:
    """Read the one identity in an age identity file (comments and blank lines ignored).

    Raises:
        ConfigError: ``KEY_FILE_NOT_FOUND``, ``KEY_FILE_UNREADABLE``.
        SealError: ``SEAL_BAD_KEY`` when there is not exactly one valid identity.
    """
    lines = _key_lines(path)
    if len(lines) != 1:
        raise SealError(
            f"{path} must hold exactly one AGE-SECRET-KEY-1… line (found {len(lines)} key lines).",
            code="SEAL_BAD_KEY",
        )
    try:
        return Identity.parse(lines[0])
    except SealError as error:
        raise SealError(f"{path}: {error.message}", code="SEAL_BAD_KEY") from None


def read_recipient(path_or_text: Path | str) -> Recipient:
    """A recipient from ``age1…`` text, a recipients file, or an identity file (its public key).

    Raises:
        ConfigError: ``KEY_FILE_NOT_FOUND``, ``KEY_FILE_UNREADABLE``.
        SealError: ``SEAL_BAD_KEY`` when no single valid recipient is found.
    """
    if isinstance(path_or_text, str) and path_or_text.strip().startswith("age1"):
        return Recipient.parse(path_or_text)
    path = Path(path_or_text)
    lines = _key_lines(path)
    if len(lines) != 1:
        raise SealError(
            f"{path} must hold exactly one key (found {len(lines)} key lines).", code="SEAL_BAD_KEY"
        )
    if lines[0].upper().startswith("AGE-SECRET-KEY-"):
        return read_identity(path).recipient
    try:
        return Recipient.parse(lines[0])
    except SealError as error:
        raise SealError(f"{path}: {error.message}", code="SEAL_BAD_KEY") from None
