"""The client half of our HTTP error contract: problem+json answers back into exceptions.

Every service answers an error as ``application/problem+json`` carrying the stable sealrun
``code`` (:mod:`sealrun.adapters.web.problems` writes it). Every client reads it back here,
so a code raised in a service reaches the caller's ``except`` as the same code, in the
exception family its prefix names. This module needs only httpx: the enclave imports the SMS
client and must not load FastAPI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from sealrun.errors import SealrunError

__all__ = ["raise_for_problem"]


def raise_for_problem(
    response: httpx.Response,
    *,
    service: str,
    default: type[SealrunError],
    default_code: str = "SERVICE_ERROR",
    families: Mapping[str, type[SealrunError]] | None = None,
) -> None:
    """Return if ``response`` succeeded; otherwise raise the error it describes.

    Args:
        response: the service's answer.
        service: how the message names the service ("market", "the SMS", ...).
        default: the exception class for codes no family claims.
        default_code: the code when the body carries none (not a problem document).
        families: code prefix -> exception class (``{"REQUEST_": RequestError}``), first match wins.

    Raises:
        SealrunError: the subclass chosen by the code's prefix, carrying the service's code.
    """
    if response.is_success:
        return
    code, detail = default_code, response.text[:300]
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or default_code)
        detail = str(body.get("detail") or "")
    kind = next((cls for prefix, cls in (families or {}).items() if code.startswith(prefix)), default)
    raise kind(f"{service} answered {response.status_code}: {detail or code}", code=code)
