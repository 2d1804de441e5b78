"""Services take their secrets from files only their own user can read, never from variables.

An environment variable leaks: every child inherits it, ``/proc/<pid>/environ`` shows it to
the same uid, and a sandbox that starts from the caller's environment hands it to the app.
A service's composition root therefore reads its secret settings from a *secrets folder*
named by ``SEALRUN_<SERVICE>_SECRETS_DIR``: one file per setting, named like its variable
(``SEALRUN_WORKER_KEY``), as pydantic-settings' ``secrets_dir`` reads them. The folder must be
the service user's own and closed to everyone else (0700), each file too (0600): anything
looser is refused before a secret is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from sealrun.errors import ConfigError

__all__ = ["check_private", "secrets_dir"]


def check_private(path: Path, *, what: str) -> None:
    """Refuse ``path`` unless it is ours and no one else may read, write or enter it.

    Raises:
        ConfigError: ``SECRET_FILE_MISSING`` or ``SECRET_FILE_EXPOSED``.
    """
    try:
        info = os.lstat(path)
    except OSError as error:
        raise ConfigError(
            f"{what} {str(path)!r} cannot be read: {error.strerror}", code="SECRET_FILE_MISSING"
        ) from error
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(f"{what} {str(path)!r} is a symbolic link", code="SECRET_FILE_EXPOSED")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{what} {str(path)!r} belongs to uid {info.st_uid}, not to us", code="SECRET_FILE_EXPOSED"
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{what} {str(path)!r} has mode {stat.S_IMODE(info.st_mode):04o}: others may reach it "
            f"(chmod {'700' if stat.S_ISDIR(info.st_mode) else '600'})",
            code="SECRET_FILE_EXPOSED",
        )


def secrets_dir(prefix: str, environ: Mapping[str, str]) -> Path | None:
    """The checked secrets folder of the service whose variables start with ``prefix``.

    Args:
        prefix: e.g. ``SEALRUN_WORKER_``; the folder is named by ``<prefix>SECRETS_DIR``.
        environ: the environment (the composition root passes ``os.environ``).

    Returns:
        The folder, or ``None`` when the variable is unset.

    Raises:
        ConfigError: ``SECRET_FILE_MISSING`` or ``SECRET_FILE_EXPOSED`` for the folder or
            any file in it.
    """
    named = environ.get(f"{prefix}SECRETS_DIR")
    if not named:
        return None
    folder = Path(named)
    check_private(folder, what="the secrets folder")
    for entry in sorted(folder.iterdir()):
        check_private(entry, what="the secret file")
    return folder
