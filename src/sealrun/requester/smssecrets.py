"""What a wallet keeps in the SMS: its secrets, its datasets' keys, its result recipient.

Writes are requests signed by the connection's wallet; status reads are unsigned and need only
the SMS's URL. No function here returns or logs a secret's value.
:func:`require_request_secrets` is the check a buyer makes before any money moves: a task whose
secret is missing would only end ``FAILED`` (``SECRET_MISSING``).

Error codes: ``SECRET_NAME_INVALID``, ``SECRET_MISSING`` (:class:`~sealrun.errors.SecretError`),
and the SMS's own (``SECRET_NOT_OWNER``, ``SECRET_ASSET_UNKNOWN``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sealrun.core.secretrules import check_secret_name
from sealrun.errors import ConfigError, SecretError
from sealrun.requester.connection import Connection
from sealrun.requester.layout import result_identity

if TYPE_CHECKING:
    from sealrun.adapters.http.sms import SmsClient
    from sealrun.api.sms import DatasetPolicyOut, RequesterSecretNameOut, SecretStatusOut

__all__ = [
    "app_secret_status",
    "dataset_key_status",
    "dataset_policy",
    "push_app_secret",
    "push_dataset_key",
    "push_requester_secret",
    "register_result_key",
    "requester_secret_names",
    "requester_secret_status",
    "require_request_secrets",
    "set_dataset_policy",
]

T = TypeVar("T")


def _signed(connection: Connection, call: Callable[[SmsClient], T]) -> T:
    sms = connection.sms()
    try:
        return call(sms)
    finally:
        sms.close()


def _unsigned(url: str, call: Callable[[SmsClient], T]) -> T:
    from sealrun.adapters.http.sms import SmsClient

    sms = SmsClient(url)
    try:
        return call(sms)
    finally:
        sms.close()


def push_requester_secret(connection: Connection, name: str, value: str) -> SecretStatusOut:
    """Push (or replace) the wallet's secret ``name``; returns the SMS's record (no value)."""
    check_secret_name(name)
    return _signed(connection, lambda sms: sms.push_requester_secret(connection.key, name, value))


def push_app_secret(connection: Connection, app: str, value: str) -> SecretStatusOut:
    """Push (or replace) ``app``'s developer secret; only the app's owner may."""
    return _signed(connection, lambda sms: sms.push_app_secret(connection.key, app, value))


def push_dataset_key(
    connection: Connection, dataset: str, identity: str, *, filename: str | None = None
) -> SecretStatusOut:
    """Give ``dataset``'s key (an age identity) and file name to the SMS; only its owner may."""
    return _signed(
        connection, lambda sms: sms.push_dataset_key(connection.key, dataset, identity, filename=filename)
    )


def set_dataset_policy(connection: Connection, dataset: str, document: str) -> DatasetPolicyOut:
    """Set (or replace) ``dataset``'s release policy document at the SMS; only its owner may."""
    return _signed(connection, lambda sms: sms.set_dataset_policy(connection.key, dataset, document))


def dataset_policy(url: str, dataset: str) -> DatasetPolicyOut | None:
    """``dataset``'s release policy at the SMS at ``url`` (public), or ``None`` when none is set."""
    return _unsigned(url, lambda sms: sms.dataset_policy(dataset))


def requester_secret_names(connection: Connection) -> list[RequesterSecretNameOut]:
    """The wallet's secrets in the SMS (names and times, never values)."""
    return _signed(connection, lambda sms: sms.requester_secret_names(connection.key))


def requester_secret_status(url: str, requester: str, name: str) -> SecretStatusOut | None:
    """Whether the SMS at ``url`` holds ``requester``'s secret ``name`` (its record, or ``None``)."""
    return _unsigned(url, lambda sms: sms.requester_secret_status(requester, name))


def app_secret_status(url: str, app: str) -> SecretStatusOut | None:
    """Whether the SMS at ``url`` holds ``app``'s developer secret."""
    return _unsigned(url, lambda sms: sms.app_secret_status(app))


def dataset_key_status(url: str, dataset: str) -> SecretStatusOut | None:
    """Whether the SMS at ``url`` holds ``dataset``'s key."""
    return _unsigned(url, lambda sms: sms.dataset_key_status(dataset))


def register_result_key(connection: Connection) -> tuple[Path, str]:
    """Make sure the SMS seals this wallet's results to its result key (``keys/result.key``,
    created on first use).

    Returns:
        The identity file and its recipient.
    """
    path, identity = result_identity(connection.root, create=True)
    recipient = str(identity.recipient)

    def register(sms: SmsClient) -> None:
        if sms.result_recipient(connection.address) != recipient:
            sms.set_result_recipient(connection.key, recipient)

    _signed(connection, register)
    return path, recipient


def require_request_secrets(
    sms_url: str | None,
    *,
    requester: str,
    secrets_by_index: Mapping[int, str],
    dataset: str | None = None,
    wallet_flag: Callable[[str], str] = lambda _owner: "",
) -> None:
    """Refuse to buy a task the SMS could not serve: every requester secret it names and its
    dataset's key must be in the SMS at ``sms_url``. Asks nothing when there is nothing to check,
    and checks no dataset key where there is no SMS (``sms_url`` ``None``: a chain without
    services). ``wallet_flag(owner)`` completes the push command each refusal names.

    Raises:
        SecretError: ``SECRET_NAME_INVALID``; ``SECRET_MISSING`` naming each missing secret and
            the command that pushes it.
        ConfigError: ``SERVICE_URL_MISSING`` when secrets are named but there is no SMS to ask.
    """
    for name in secrets_by_index.values():
        check_secret_name(name)
    if not secrets_by_index and dataset is None:
        return
    if sms_url is None:
        # A dataset's key is its owner's business on a chain without services; secrets the
        # request names are ours to check, so without an SMS the caller must refuse.
        if not secrets_by_index:
            return
        raise ConfigError(
            "no sms URL: start a devnet (`sealrun devnet up`) or set SEALRUN_SMS_URL",
            code="SERVICE_URL_MISSING",
        )

    def missing(sms: SmsClient) -> list[str]:
        found = [
            f"requester secret {name!r} (index {index}) of {requester}: "
            f"`sealrun requester push-secret {name}{wallet_flag(requester)}`"
            for index, name in sorted(secrets_by_index.items())
            if sms.requester_secret_status(requester, name) is None
        ]
        if dataset is not None and sms.dataset_key_status(dataset) is None:
            found.append(f"the key of dataset {dataset}: `sealrun dataset push-secret {dataset}` (its owner)")
        return found

    lacking = _unsigned(sms_url, missing)
    if lacking:
        raise SecretError(
            "the SMS lacks what this task needs, so it would end FAILED at once; nothing was bought. "
            "Missing: " + "; ".join(lacking),
            code="SECRET_MISSING",
        )
