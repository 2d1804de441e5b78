"""iExec's app interface, so apps written for iExec run unchanged.

Inside the sandbox the app sees (paths are the sandbox's own):

| variable | value |
| --- | --- |
| ``IEXEC_IN`` | ``/iexec_in`` (read-only: the opened dataset and the input files) |
| ``IEXEC_OUT`` | ``/iexec_out`` (writable: the result, and ``computed.json``) |
| ``IEXEC_TASK_ID`` | the task id, ``0x``-hex |
| ``IEXEC_DATASET_FILENAME`` | the dataset's file in ``IEXEC_IN`` (only with a dataset): its
  owner's file name, or its address; a folder arrives as ``<name>.zip`` (:mod:`.precompute`) |
| ``IEXEC_DATASET_ADDRESS`` | the dataset's on-chain address (only with a dataset) |
| ``IEXEC_INPUT_FILES_FOLDER`` | ``/iexec_in`` |
| ``IEXEC_INPUT_FILES_NUMBER`` | how many input files; ``IEXEC_INPUT_FILE_NAME_1..n`` name them |
| ``IEXEC_BULK_SLICE_SIZE`` | ``0``: sealrun has no bulk processing, so no ``IEXEC_DATASET_<i>_FILENAME`` |
| ``IEXEC_REQUESTER_SECRET_n`` | the requester secret of index n |
| ``IEXEC_APP_DEVELOPER_SECRET`` | the app developer's secret |
| ``IEXEC_BOT_*`` | ``IEXEC_BOT_SIZE=1``, ``IEXEC_BOT_FIRST_INDEX=0``, ``IEXEC_BOT_TASK_INDEX=0`` |

plus ``PATH``, ``HOME`` (``/tmp``) and ``LANG`` for the runtime itself (set by the sandbox),
and ``NODE_OPTIONS`` for a ``node`` runtime (docs/apps.md, Limits).

The argv is the manifest's entrypoint followed by the request's ``params.args`` split like a
POSIX shell would (``shlex``), never passed through a shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sealrun.core.bundles import AppManifest
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.enclave.failure import TaskFailedError

__all__ = [
    "IEXEC_IN",
    "IEXEC_OUT",
    "NODE_RESERVE_BYTES",
    "RuntimeProfile",
    "app_argv",
    "app_environment",
    "runtime_profile",
]

IEXEC_IN = "/iexec_in"
IEXEC_OUT = "/iexec_out"
# Address space a Node.js process reserves beyond what it uses (V8's code range and heap
# reservations, thread stacks: ~700 MiB at start for ~40 MiB resident, measured on Node 20).
NODE_RESERVE_BYTES = 1 << 30
_MIB = 1 << 20


@dataclass(frozen=True)
class RuntimeProfile:
    """What the manifest's ``runtime`` adds to a run: environment and address-space fallback."""

    env: Mapping[str, str]
    address_space_bytes: int | None


def runtime_profile(manifest: AppManifest) -> RuntimeProfile:
    """Return the runtime's own environment and RLIMIT_AS fallback for ``manifest``.

    For ``node`` the memory limit is given to V8 as its heap limit (``NODE_OPTIONS=
    --max-old-space-size``, three quarters of ``memory_mb``, the rest for code, buffers and
    stacks), so a greedy app ends with V8's "heap out of memory" (``APP_MEMORY_EXCEEDED``)
    rather than an OOM kill, and the address-space fallback (used only where no cgroup
    limits memory) is ``memory_mb`` plus :data:`NODE_RESERVE_BYTES`: V8 reserves far more
    address space than it uses, and would not even start under 512 MiB.
    """
    if manifest.runtime != "node":
        return RuntimeProfile(env={}, address_space_bytes=None)
    memory = manifest.resources.memory_bytes
    heap_mb = max(16, memory * 3 // 4 // _MIB)
    return RuntimeProfile(
        env={"NODE_OPTIONS": f"--max-old-space-size={heap_mb}"},
        address_space_bytes=memory + NODE_RESERVE_BYTES,
    )


def app_argv(manifest: AppManifest, args: str) -> tuple[str, ...]:
    """Return the app's argv: the entrypoint plus the request's arguments.

    Raises:
        TaskFailedError: ``TASK_PARAMS_INVALID`` if ``args`` does not split (unbalanced quotes).
    """
    try:
        extra = shlex.split(args)
    except ValueError as error:
        raise TaskFailedError(
            FailureCode.TASK_PARAMS_INVALID, f"the request's args do not parse: {error}"
        ) from error
    return (*manifest.entrypoint, *extra)


def app_environment(
    bundle: SecretsBundle, *, dataset_filename: str | None, input_files: Sequence[str]
) -> dict[str, str]:
    """Return the whole environment of the app (nothing else is inherited)."""
    env = {
        "IEXEC_IN": IEXEC_IN,
        "IEXEC_OUT": IEXEC_OUT,
        "IEXEC_TASK_ID": bundle.task_id,
        "IEXEC_INPUT_FILES_FOLDER": IEXEC_IN,
        "IEXEC_INPUT_FILES_NUMBER": str(len(input_files)),
        "IEXEC_BULK_SLICE_SIZE": "0",
        "IEXEC_BOT_SIZE": "1",
        "IEXEC_BOT_FIRST_INDEX": "0",
        "IEXEC_BOT_TASK_INDEX": "0",
    }
    if dataset_filename is not None and bundle.dataset is not None:
        env["IEXEC_DATASET_FILENAME"] = dataset_filename
        env["IEXEC_DATASET_ADDRESS"] = bundle.dataset.address
    for index, name in enumerate(input_files, start=1):
        env[f"IEXEC_INPUT_FILE_NAME_{index}"] = name
    for index, secret in sorted(bundle.requester_secrets.items()):
        env[f"IEXEC_REQUESTER_SECRET_{index}"] = secret
    if bundle.app_developer_secret is not None:
        env["IEXEC_APP_DEVELOPER_SECRET"] = bundle.app_developer_secret
    return env
