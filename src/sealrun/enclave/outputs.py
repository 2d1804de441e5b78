"""Post-compute checks on the app's output folder, and the deterministic archives.

After the sandbox is gone (every app process died with its pid namespace, so nothing can
change the folder any more) the output is checked:

- every path passes the requester's own unpacking rules
  (:func:`sealrun.core.sealing.unpacking.clean_member_name`, the very function her
  ``decrypt`` applies), is valid UTF-8 and is already in the clean form those rules produce
  (no backslash, no ``.`` part): else ``APP_OUTPUT_INVALID``. A result the requester pays
  for but cannot open (a name with a newline, a non-UTF-8 name) is never sealed;
- only regular files and folders: a symlink (e.g. to ``/etc/shadow`` or into the enclave's
  work folder), a FIFO, a socket or a device is ``APP_OUTPUT_INVALID``;
- at most ``output_size`` bytes in total and 100 000 entries: ``APP_OUTPUT_TOO_LARGE``;
- ``computed.json`` (required, as on iExec): a JSON object of at most 1 MiB whose
  ``deterministic-output-path`` is a string naming an existing entry under ``/iexec_out``
  (absolute, as iExec writes it, or relative; ``/iexec_out`` itself names the whole output):
  else ``APP_COMPUTED_JSON_INVALID``. An app that forgot it, or crashed before writing it,
  must not end COMPLETED with a result nobody vouched for;
- every path the manifest declares exists: else ``APP_OUTPUT_INVALID``.

The checked entries become members of the deterministic folder archive of
:mod:`sealrun.core.sealing` (sorted, mtime 0, no owners, normalised modes; the format of
every sealed folder), so the same output always yields the same bytes, hence the same
result digest, and ``sealrun result decrypt`` opens it into a folder.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sealrun.core.sealing import ArchiveEntry
from sealrun.core.sealing.unpacking import clean_member_name
from sealrun.core.tasks import FailureCode
from sealrun.enclave.appinterface import IEXEC_OUT
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import UnpackError

__all__ = ["OutputEntry", "archive_entries", "check_output_name", "scan_output"]

MAX_ENTRIES = 100_000
COMPUTED_JSON = "computed.json"
_MAX_COMPUTED = 1 << 20


@dataclass(frozen=True)
class OutputEntry:
    """One checked entry of an output folder."""

    relative: str
    path: Path
    is_dir: bool
    size: int
    executable: bool


def _invalid(message: str) -> TaskFailedError:
    return TaskFailedError(FailureCode.APP_OUTPUT_INVALID, message)


def check_output_name(relative: str) -> None:
    """Refuse an output path the requester's unpacker would refuse, or rewrite.

    Raises:
        TaskFailedError: ``APP_OUTPUT_INVALID``.
    """
    try:
        # A name that is not UTF-8 reaches us as surrogate escapes, which strict encoding refuses.
        relative.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _invalid(f"output entry {relative!r} has a name that is not UTF-8") from error
    try:
        clean = clean_member_name(relative)
    except UnpackError as error:
        raise _invalid(
            f"output entry {relative!r} would be refused when the result is opened ({error.code})"
        ) from error
    if clean != relative:
        raise _invalid(f"output entry {relative!r} is not a clean path (a backslash or a '.' part)")


def scan_output(folder: Path, *, max_bytes: int, declared: Sequence[str] = ()) -> list[OutputEntry]:
    """Check the output folder (see the module docstring) and list its entries, sorted.

    Raises:
        TaskFailedError: ``APP_OUTPUT_INVALID`` or ``APP_OUTPUT_TOO_LARGE``.
    """
    entries: list[OutputEntry] = []
    total = 0
    pending = [folder]
    while pending:
        current = pending.pop()
        with os.scandir(current) as listing:
            found = list(listing)
        for entry in found:
            path = Path(entry.path)
            relative = path.relative_to(folder).as_posix()
            check_output_name(relative)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                pending.append(path)
                entries.append(OutputEntry(relative, path, True, 0, True))
            elif stat.S_ISREG(st.st_mode):
                total += st.st_size
                entries.append(OutputEntry(relative, path, False, st.st_size, bool(st.st_mode & 0o111)))
            else:
                kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "a special file"
                raise _invalid(f"output entry {relative!r} is {kind}")
            if total > max_bytes:
                raise TaskFailedError(
                    FailureCode.APP_OUTPUT_TOO_LARGE, f"the output exceeds {max_bytes} bytes"
                )
            if len(entries) > MAX_ENTRIES:
                raise TaskFailedError(
                    FailureCode.APP_OUTPUT_TOO_LARGE, f"the output has over {MAX_ENTRIES} entries"
                )
    names = {e.relative for e in entries}
    for declared_path in declared:
        if declared_path not in names:
            raise _invalid(f"declared output {declared_path!r} is missing")
    _check_computed(folder / COMPUTED_JSON, names)
    return sorted(entries, key=lambda e: e.relative.encode())


def _computed(message: str) -> TaskFailedError:
    return TaskFailedError(FailureCode.APP_COMPUTED_JSON_INVALID, message)


def _check_computed(path: Path, names: set[str]) -> None:
    if COMPUTED_JSON not in names:
        raise _computed(
            "the app wrote no computed.json: write IEXEC_OUT/computed.json with "
            '{"deterministic-output-path": "<IEXEC_OUT>/<your result>"} (docs/apps.md)'
        )
    if path.is_dir():
        raise _computed("computed.json is a folder")
    raw = path.read_bytes()
    if len(raw) > _MAX_COMPUTED:
        raise _computed("computed.json is larger than 1 MiB")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise _computed("computed.json is not JSON") from error
    if not isinstance(data, dict):
        raise _computed("computed.json is not a JSON object")
    target = data.get("deterministic-output-path")
    if target is None:
        raise _computed("computed.json has no deterministic-output-path")
    if not isinstance(target, str):
        raise _computed("computed.json: deterministic-output-path must be a string")
    pure = PurePosixPath(target)
    if pure.is_absolute():
        try:
            pure = pure.relative_to(IEXEC_OUT)
        except ValueError as error:
            raise _computed(
                f"computed.json: deterministic-output-path {target!r} is outside IEXEC_OUT"
            ) from error
    if ".." in pure.parts:
        raise _computed(f"computed.json: deterministic-output-path {target!r} escapes IEXEC_OUT")
    if pure.as_posix() not in (".", "") and pure.as_posix() not in names:
        raise _computed(f"computed.json: deterministic-output-path {target!r} does not exist")


def _opener(path: Path) -> Callable[[], BinaryIO]:
    def open_checked() -> BinaryIO:
        # O_NOFOLLOW: the entry was checked to be a regular file; refuse anything else.
        return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")

    return open_checked


def archive_entries(entries: Sequence[OutputEntry]) -> list[ArchiveEntry]:
    """Return the deterministic-archive members of checked output entries."""
    return [
        ArchiveEntry(e.relative, "dir")
        if e.is_dir
        else ArchiveEntry(e.relative, "file", size=e.size, executable=e.executable, open=_opener(e.path))
        for e in entries
    ]
