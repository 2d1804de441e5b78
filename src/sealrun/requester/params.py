"""A request order's ``params``, checked the way the SMS will read them at release.

Error codes: ``ORDER_PARAMS_INVALID`` (:class:`~sealrun.errors.OrderError`).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from sealrun.core.secretrules import check_secret_name
from sealrun.core.tasks.secretsbundle import MAX_SECRET_INDEX, is_secret_index
from sealrun.errors import OrderError, SecretError

__all__ = ["check_request_params", "request_secret_names"]


def check_request_params(text: str) -> None:
    """Check a request order's ``params`` the way the SMS will read them at release.

    Empty, or a JSON object whose known keys are typed: ``iexec_args`` a string,
    ``iexec_input_files`` a list of ``http(s)`` URLs, ``iexec_secrets`` an object mapping
    indexes (ASCII digits, 1 to 1000) to secret names (:mod:`sealrun.core.secretrules`).
    Other keys pass (iExec defines more).

    Raises:
        OrderError: ``ORDER_PARAMS_INVALID`` naming what is wrong.
    """
    if not text:
        return

    def invalid(why: str) -> OrderError:
        return OrderError(f"--params / params {why}", code="ORDER_PARAMS_INVALID")

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise invalid(f"is not JSON: {str(error)[:120]}") from None
    if not isinstance(data, dict):
        raise invalid("must be a JSON object")
    if not isinstance(data.get("iexec_args", ""), str):
        raise invalid("iexec_args must be a string")
    files = data.get("iexec_input_files", [])
    if not isinstance(files, list):
        raise invalid("iexec_input_files must be a list of URLs")
    for url in files:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"iexec_input_files holds {str(url)[:80]!r}, not an http(s) URL")
    secrets_by_index = data.get("iexec_secrets", {})
    if not isinstance(secrets_by_index, dict):
        raise invalid("iexec_secrets must map indexes to secret names")
    for index, name in secrets_by_index.items():
        if not is_secret_index(index):
            raise invalid(f"iexec_secrets maps {index!r}: indexes are ASCII digits 1 to {MAX_SECRET_INDEX}")
        try:
            check_secret_name(name)
        except SecretError as error:
            raise invalid(f"iexec_secrets[{index!r}]: {error.message}") from None


def request_secret_names(text: str) -> dict[int, str]:
    """The requester secrets a request order's ``params`` name, by index (checked params only)."""
    check_request_params(text)
    named = json.loads(text).get("iexec_secrets", {}) if text else {}
    return {int(index): str(name) for index, name in named.items()}
