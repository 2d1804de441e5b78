"""A deal's iExec-style params, as the SMS reads them at release.

A deal's ``params`` is JSON: ``iexec_args`` (a string), ``iexec_input_files`` (a list of
URLs) and ``iexec_secrets`` (``{"1": "name", ...}``: the requester secrets the app receives,
by index). The empty string means no params. Anything else is ``RELEASE_PARAMS_INVALID``
(:class:`~sealrun.errors.ReleaseError`): an order the SMS cannot read is refused at release.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from sealrun.core.tasks.secretsbundle import MAX_SECRET_INDEX, is_secret_index
from sealrun.errors import ReleaseError

__all__ = ["MAX_REQUESTER_SECRETS", "MAX_SECRET_NAME", "ReleaseParams", "parse_release_params"]

#: At most this many requester secrets per task.
MAX_REQUESTER_SECRETS = 32
#: A requester secret's name is 1 to this many characters.
MAX_SECRET_NAME = 64


@dataclass(frozen=True)
class ReleaseParams:
    """What a deal's params ask of the release: the app's args, input files and secrets."""

    args: str = ""
    input_files: tuple[str, ...] = ()
    secrets: Mapping[int, str] = field(default_factory=dict)


def parse_release_params(text: str) -> ReleaseParams:
    """Read a deal's params.

    Raises:
        ReleaseError: ``RELEASE_PARAMS_INVALID`` (not JSON, wrong types, too many secrets, or
            a secret index that is not 1 to 1000 in ASCII digits).
    """
    invalid = ReleaseError("the deal's params are not valid", code="RELEASE_PARAMS_INVALID")
    if not text:
        return ReleaseParams()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise invalid from error
    if not isinstance(data, dict):
        raise invalid
    args = data.get("iexec_args", "")
    files = data.get("iexec_input_files", [])
    names = data.get("iexec_secrets", {})
    if not isinstance(args, str) or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise invalid
    if not isinstance(names, dict) or len(names) > MAX_REQUESTER_SECRETS:
        raise invalid
    secrets: dict[int, str] = {}
    for index, name in names.items():
        # ASCII digits, bounded: "²".isdigit() is true and int("²") raises (it was a 500).
        if not is_secret_index(index) or not isinstance(name, str) or not 0 < len(name) <= MAX_SECRET_NAME:
            raise ReleaseError(
                f"the deal's secret indexes must be 1 to {MAX_SECRET_INDEX} in ASCII digits, naming secrets",
                code="RELEASE_PARAMS_INVALID",
            )
        secrets[int(index)] = name
    return ReleaseParams(args=args, input_files=tuple(files), secrets=secrets)
