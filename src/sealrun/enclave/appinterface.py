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
from collections.abc import Sequence

from sealrun.core.bundles import AppManifest
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.enclave.failure import TaskFailedError

__all__ = ["IEXEC_IN", "IEXEC_OUT", "app_argv", "app_environment"]

IEXEC_IN = "/iexec_in"
IEXEC_OUT = "/iexec_out"


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
