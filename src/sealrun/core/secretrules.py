"""What a requester secret's name and a secret's value may be: one rule for the CLI, the SDK
and the SMS.

A **name** (requester secrets; ``iexec_secrets`` maps indexes to names) is 1 to
:data:`MAX_SECRET_NAME` ASCII characters from ``A-Z a-z 0-9 _ . -``, starting with a letter or
a digit. It travels as one URL path segment (``/v1/requesters/{requester}/secrets/{name}``),
so it must never read as ``.`` or ``..`` (which a client or proxy folds into another
endpoint's path), as an option (``-x``) or hold ``/``, ``%``, ``?`` or ``#``.

A **value** (requester secrets, app developer secrets) is text: valid UTF-8, 1 to
:data:`MAX_SECRET_VALUE` characters, and no NUL character, because the enclave hands it to the
app as an environment variable (``IEXEC_REQUESTER_SECRET_<n>``, ``IEXEC_APP_DEVELOPER_SECRET``)
and an environment value cannot hold NUL. Values are kept exactly as given (a trailing newline
from ``echo`` is part of the value).

Error codes (:class:`~sealrun.errors.SecretError`): ``SECRET_NAME_INVALID``,
``SECRET_VALUE_INVALID``. Messages never quote a value.
"""

from __future__ import annotations

import re

from sealrun.errors import SecretError

__all__ = [
    "MAX_SECRET_NAME",
    "MAX_SECRET_VALUE",
    "SECRET_NAME_PATTERN",
    "check_secret_name",
    "check_secret_value",
    "decode_secret_value",
]

MAX_SECRET_NAME = 64
MAX_SECRET_VALUE = 4096
SECRET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # noqa: S105  # a name pattern, not a secret
_NAME = re.compile(SECRET_NAME_PATTERN)


def check_secret_name(name: object) -> str:
    """Return ``name`` if it is a valid secret name.

    Raises:
        SecretError: ``SECRET_NAME_INVALID``, naming the grammar.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name)[:80] if isinstance(name, str) else type(name).__name__
        raise SecretError(
            f"{shown} is not a secret name: 1 to {MAX_SECRET_NAME} characters of A-Z a-z 0-9 _ . -, "
            "starting with a letter or a digit",
            code="SECRET_NAME_INVALID",
        )
    return name


def check_secret_value(value: str) -> str:
    """Return ``value`` if it is a valid secret value (never quoted in the error).

    Raises:
        SecretError: ``SECRET_VALUE_INVALID`` when empty, longer than :data:`MAX_SECRET_VALUE`
            characters, or holding a NUL character.
    """
    if not value:
        raise SecretError("the secret value is empty", code="SECRET_VALUE_INVALID")
    if len(value) > MAX_SECRET_VALUE:
        raise SecretError(
            f"the secret value has {len(value)} characters; at most {MAX_SECRET_VALUE} are allowed",
            code="SECRET_VALUE_INVALID",
        )
    if "\0" in value:
        raise SecretError(
            "the secret value holds a NUL character, which no environment variable can carry",
            code="SECRET_VALUE_INVALID",
        )
    return value


def decode_secret_value(raw: bytes) -> str:
    """Read a secret value from bytes (a file, stdin): UTF-8, then :func:`check_secret_value`.

    Raises:
        SecretError: ``SECRET_VALUE_INVALID``.
    """
    # Refuse oversized input before decoding it: a UTF-8 character is at most 4 bytes.
    if len(raw) > 4 * MAX_SECRET_VALUE:
        raise SecretError(
            f"the secret value has {len(raw)} bytes; at most {MAX_SECRET_VALUE} characters are allowed",
            code="SECRET_VALUE_INVALID",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SecretError(
            f"the secret value is not UTF-8 text (byte {error.start} is invalid)", code="SECRET_VALUE_INVALID"
        ) from None
    return check_secret_value(text)
