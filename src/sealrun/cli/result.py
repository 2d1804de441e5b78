"""``sealrun result``: the requester's result key pair, opening sealed results, and how a
followed task's outcome is printed.

``generate-keys`` writes an age identity (0600, in ``keys/``, a 0700 folder) and prints its
recipient, which is what results are sealed to. ``decrypt`` opens a sealed result (or any
age X25519 file) into a file or folder that appears only once everything verified.

:func:`finish` is how ``task show``, ``task logs`` and ``app run`` end: the result, the lines
a human needs about a task that did not complete (:func:`outcome_lines`), and the exit status
(:func:`exit_status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sealrun.adapters.sealedfiles import open_path, read_identity, write_identity
from sealrun.cli.output import EXIT_TASK_FAILED, EXIT_TIMED_OUT, JSON_OPTION, Output
from sealrun.core.sealing import DEFAULT_MAX_UNPACKED_SIZE, Identity
from sealrun.errors import ConfigError, UsageError
from sealrun.requester.layout import RESULT_KEY

if TYPE_CHECKING:
    from sealrun.requester.tasks import FollowedTask

__all__ = ["default_output", "exit_status", "finish", "outcome_lines", "result_app", "tee_lines"]


result_app = typer.Typer(name="result", help="Result keys and sealed results.", no_args_is_help=True)

_KEY_OUT = typer.Option(RESULT_KEY, "--out", help="Identity file to write (0600).")
_FORCE = typer.Option(False, "--force", help="Overwrite an existing identity file.")
_SEALED = typer.Argument(..., help="The sealed result file.")
_KEY = typer.Option(RESULT_KEY, "--key", help="Identity file that opens it.")
_OUT = typer.Option(None, "--out", help="Output path; an existing folder receives it inside.")
_MAX_SIZE = typer.Option(
    DEFAULT_MAX_UNPACKED_SIZE // 1024**2, "--max-size-mib", help="Refuse folders unpacking to more than this."
)
_NO_UNPACK = typer.Option(False, "--no-unpack", help="Write a sealed folder as its tar file.")


def default_output(sealed: Path, out: Path | None, fallback_dir: Path) -> Path:
    """Where to open ``sealed``: ``out``; inside ``out`` if it is a folder; else ``fallback_dir``."""
    stem = sealed.name.removesuffix(".age") if sealed.name.endswith(".age") else sealed.name + ".opened"
    if out is None:
        return fallback_dir / stem
    if out.is_dir():
        return out / stem
    return out


@result_app.command("generate-keys")
def generate_keys(out: Path = _KEY_OUT, force: bool = _FORCE, json_out: bool = JSON_OPTION) -> None:
    """Make a result key pair: the identity file (secret) and its age1… recipient (public)."""
    output = Output(json_out)
    identity = Identity.generate()
    path = write_identity(out, identity, overwrite=force)
    output.result({"recipient": str(identity.recipient), "identity_file": str(path)})
    output.info(
        "results sealed to this recipient open with `sealrun result decrypt FILE --key " + str(path) + "`"
    )


@result_app.command("decrypt")
def decrypt(
    sealed: Path = _SEALED,
    key: Path = _KEY,
    out: Path | None = _OUT,
    max_size_mib: int = _MAX_SIZE,
    no_unpack: bool = _NO_UNPACK,
    json_out: bool = JSON_OPTION,
) -> None:
    """Open a sealed result into a file or folder (nothing appears unless all of it verifies)."""
    output = Output(json_out)
    if max_size_mib <= 0:
        raise UsageError("--max-size-mib must be positive.", code="USAGE")
    if not sealed.is_file():
        raise ConfigError(f"{sealed} does not exist or is not a file.", code="FILE_NOT_FOUND")
    identity = read_identity(key)
    target = default_output(sealed, out, Path("tee/outputs") if Path("tee/outputs").is_dir() else Path("."))
    with output.progress(f"opening {sealed.name}", sealed.stat().st_size) as advance:
        opened = open_path(
            sealed,
            target,
            [identity],
            max_unpacked_size=max_size_mib * 1024**2,
            unpack=False if no_unpack else None,
            progress=advance,
        )
    output.result(
        {
            "path": str(opened.path),
            "kind": opened.kind,
            "files": opened.files,
            "checksum": opened.checksum,
            "plaintext_size": opened.plaintext_size,
            "ciphertext_size": opened.ciphertext_size,
        }
    )


def exit_status(followed: FollowedTask) -> int:
    """What a command that waited for the task exits with: 0 COMPLETED (or not watched to its
    end), ``EXIT_TASK_FAILED`` FAILED or CLAIMED, ``EXIT_TIMED_OUT`` when the wait ran out."""
    if followed.timed_out:
        return EXIT_TIMED_OUT
    if followed.status in ("FAILED", "CLAIMED"):
        return EXIT_TASK_FAILED
    return 0


def finish(out: Output, data: Mapping[str, object], followed: FollowedTask) -> None:
    """Print a followed task's result and outcome lines, then exit with its status
    (:func:`exit_status`: non-zero when it FAILED, was CLAIMED or the wait timed out)."""
    from rich.markup import escape

    out.result(data)
    for line in [*tee_lines(data), *outcome_lines(data)]:
        out.info(escape(line))
    status = exit_status(followed)
    if status:
        raise SystemExit(status)


def tee_lines(data: Mapping[str, object]) -> list[str]:
    """The TEE the task ran in (``data["tee"]``, from its receipt): a simulated one is named so."""
    tee = data.get("tee")
    if not isinstance(tee, Mapping):
        return []
    if isinstance(error := tee.get("error"), Mapping):
        return [f"TEE: not read from the task's receipt ({error.get('code')})"]
    if tee.get("simulated"):
        line = (
            f"TEE: {tee.get('type')}: SIMULATED, no hardware protection (a development pool; "
            "`sealrun verify` says so too)"
        )
    else:
        line = f"TEE: {tee.get('type')} (hardware; `sealrun verify` checks its evidence)"
    return [line, *_isolation_lines(tee)]


def _isolation_lines(tee: Mapping[str, object]) -> list[str]:
    """The isolation mode the SMS released the task's secrets in (decision 0080)."""
    mode = tee.get("isolation")
    if mode == "strict":
        return ["isolation: strict (an enclave launched and attested for this task alone)"]
    if mode == "session":
        return [
            f"isolation: session {tee.get('session')} (an enclave attested once per worker boot; "
            "this task ran in a fresh sandbox and was checked and audited on its own)"
        ]
    return []


def outcome_lines(data: Mapping[str, object]) -> list[str]:
    """What to tell a human about a task that did not complete (from :func:`describe`'s data
    plus ``reason``/``reason_error``): the failure name, the attested reason, the next command."""
    task, status = data.get("task", ""), data.get("status", "")
    if data.get("timed_out"):
        return [
            f"task {task} is still {status} after the wait: "
            f"`sealrun task show {task} --watch` keeps following it"
        ]
    lines: list[str] = []
    failure = data.get("failure")
    if status == "FAILED" and isinstance(failure, Mapping) and failure:
        lines.append(f"task {task} FAILED: {failure['name']} (failure code {failure['code']})")
        if data.get("reason"):
            lines.append(f"attested reason: {data['reason']}")
        elif isinstance(error := data.get("reason_error"), Mapping) and error:
            lines.append(f"attested reason: not read ({error['code']}: {error['message']})")
        lines.append(f"logs: `sealrun task logs {task}`")
    elif status == "CLAIMED":
        lines.append(f"task {task} did not finish by its deadline and was refunded (CLAIMED)")
    return lines
