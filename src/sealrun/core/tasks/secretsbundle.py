"""The secrets bundle: everything an attested enclave receives for one task.

The SMS builds it after attestation and seals it (age, X25519) to the enclave's ephemeral
key; the enclave opens it and nobody else sees it. It is a versioned JSON object:

```
{
  "version": 3,
  "task_id": "0x<32 bytes hex>",
  "worker": "0x<address>",                  # the authorized worker (enters resultSeal)
  "enclave_key": "0x<32 bytes hex>",        # the per-task enclave challenge private key
  "beneficiary_recipient": "age1..." | null,  # results and logs are sealed to it
  "dataset": null | {"url": str, "checksum": "0x<sha256 hex>", "key": "AGE-SECRET-KEY-1...",
              "address": "0x<address>",      # IEXEC_DATASET_ADDRESS
              "filename": null | str},        # the owner's file name (IEXEC_DATASET_FILENAME)
  "app_developer_secret": null | str,
  "requester_secrets": {"1": str, ...},     # IEXEC_REQUESTER_SECRET_n, by index n >= 1
  "params": {"args": str, "input_files": [url, ...]},
  "max_time": int,                          # seconds: the category's execution time
  "result_upload": {"url": str, "token": str},
  "failure": null | {"code": int, "reason": str}   # version 2: a failure bundle
}
```

A *failure bundle* (``failure`` set) is what the SMS releases to a genuine, authorized
enclave when the task can never run: its order is unusable (invalid params, a secret or the
beneficiary's recipient never pushed) or its attempts are exhausted. It carries the enclave
key, the recipient if there is one, and a :class:`~sealrun.core.tasks.FailureCode`, and no
secret at all: ``dataset`` and ``app_developer_secret`` are null, ``requester_secrets`` is
empty and ``params`` are empty. The enclave signs a failure receipt with that code without
running the app. ``beneficiary_recipient`` may be null only in a failure bundle (then there
is nobody to seal logs to, and the receipt's log digest is 32 zero bytes).

Version 2 added ``failure`` and the nullable recipient; version 3 added the dataset's
``address`` and ``filename`` (checked by :func:`~sealrun.core.tasks.filenames.check_dataset_filename`;
null when its owner pushed none: the enclave then names the dataset by its address, as iExec
does). Versions 1 and 2 are no longer accepted.
Parsing validates every field and rejects unknown ones (:class:`~sealrun.errors.SecretError`,
code ``BUNDLE_INVALID``); an unknown ``version`` is ``BUNDLE_VERSION_UNSUPPORTED``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sealrun.core.tasks.failures import FailureCode
from sealrun.core.tasks.filenames import check_dataset_filename
from sealrun.errors import ConfigError, SecretError, SecretsBundleError

if TYPE_CHECKING:
    from sealrun.core.jsontypes import JsonObject

__all__ = [
    "BUNDLE_VERSION",
    "DatasetSecret",
    "ReleaseFailure",
    "ResultUpload",
    "SecretsBundle",
    "TaskParams",
    "is_secret_index",
]

BUNDLE_VERSION = 3
MAX_SECRET_INDEX = 1000
_MAX_REASON = 1000
MAX_BUNDLE_BYTES = 1 << 20

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_RECIPIENT = re.compile(r"^age1[0-9a-z]{58}$")
_IDENTITY = re.compile(r"^AGE-SECRET-KEY-1[0-9A-Z]{58}$")
# ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
_INDEX = re.compile(r"^[1-9][0-9]{0,3}$")


def is_secret_index(text: str) -> bool:
    """Whether ``text`` is a requester secret index: ASCII digits, 1 to :data:`MAX_SECRET_INDEX`."""
    return bool(_INDEX.fullmatch(text)) and int(text) <= MAX_SECRET_INDEX


def _invalid(message: str) -> SecretError:
    return SecretsBundleError(f"secrets bundle: {message}", code="BUNDLE_INVALID")


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise _invalid(f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _invalid(f"field {key!r} has the wrong type")
    return value


def _match(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise _invalid(f"{what} is malformed")
    return value


def _exact_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise _invalid(f"unknown field(s) in {where}: {', '.join(sorted(unknown))}")


@dataclass(frozen=True)
class DatasetSecret:
    """Where the sealed dataset is, its ciphertext checksum, its age identity, its on-chain
    address and the file name its owner gave it (None: none was pushed)."""

    url: str
    checksum: str
    key: str = field(repr=False)
    address: str
    filename: str | None = None


@dataclass(frozen=True)
class TaskParams:
    """The request's parameters the app sees (from the on-chain deal, not the worker)."""

    args: str = ""
    input_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResultUpload:
    """Where the enclave uploads the sealed result, and the bearer token that allows it."""

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class ReleaseFailure:
    """Why the SMS released a failure bundle: the code the enclave signs, and a sentence for its log."""

    code: FailureCode
    reason: str = ""


@dataclass(frozen=True)
class SecretsBundle:
    """The plaintext of the bundle an attested enclave receives (see the module docstring)."""

    task_id: str
    worker: str
    enclave_key: str = field(repr=False)
    beneficiary_recipient: str | None
    result_upload: ResultUpload
    max_time: int
    params: TaskParams = TaskParams()
    dataset: DatasetSecret | None = None
    app_developer_secret: str | None = field(default=None, repr=False)
    requester_secrets: Mapping[int, str] = field(default_factory=dict, repr=False)
    failure: ReleaseFailure | None = None

    def __post_init__(self) -> None:
        if self.failure is None:
            if self.beneficiary_recipient is None:
                raise _invalid("only a failure bundle may lack the beneficiary recipient")
        elif (
            self.dataset is not None
            or self.app_developer_secret is not None
            or self.requester_secrets
            or self.params != TaskParams()
        ):
            raise _invalid("a failure bundle carries no secrets and no params")

    def to_json(self) -> bytes:
        """Serialize to canonical JSON bytes (sorted keys, no whitespace)."""
        data: JsonObject = {
            "version": BUNDLE_VERSION,
            "task_id": self.task_id,
            "worker": self.worker,
            "enclave_key": self.enclave_key,
            "beneficiary_recipient": self.beneficiary_recipient,
            "dataset": None
            if self.dataset is None
            else {
                "url": self.dataset.url,
                "checksum": self.dataset.checksum,
                "key": self.dataset.key,
                "address": self.dataset.address,
                "filename": self.dataset.filename,
            },
            "app_developer_secret": self.app_developer_secret,
            "requester_secrets": {str(k): v for k, v in sorted(self.requester_secrets.items())},
            "params": {"args": self.params.args, "input_files": list(self.params.input_files)},
            "max_time": self.max_time,
            "result_upload": {"url": self.result_upload.url, "token": self.result_upload.token},
            "failure": None
            if self.failure is None
            else {"code": int(self.failure.code), "reason": self.failure.reason},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SecretsBundle:
        """Parse and validate a bundle.

        Raises:
            SecretError: ``BUNDLE_INVALID`` or ``BUNDLE_VERSION_UNSUPPORTED``.
        """
        if len(raw) > MAX_BUNDLE_BYTES:
            raise _invalid("larger than 1 MiB")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise _invalid("not JSON") from error
        if not isinstance(data, dict):
            raise _invalid("not a JSON object")
        version = data.get("version")
        if version != BUNDLE_VERSION:
            raise SecretsBundleError(
                f"secrets bundle version {version!r} is not supported (expected {BUNDLE_VERSION})",
                code="BUNDLE_VERSION_UNSUPPORTED",
            )
        _exact_keys(
            data,
            {
                "version", "task_id", "worker", "enclave_key", "beneficiary_recipient", "dataset",
                "app_developer_secret", "requester_secrets", "params", "max_time", "result_upload",
                "failure",
            },
            "bundle",
        )  # fmt: skip
        dataset = None
        if data.get("dataset") is not None:
            raw_dataset = _require(data, "dataset", dict)
            _exact_keys(raw_dataset, {"url", "checksum", "key", "address", "filename"}, "dataset")
            dataset = DatasetSecret(
                url=_require(raw_dataset, "url", str),
                checksum=_match(_HEX32, _require(raw_dataset, "checksum", str), "dataset checksum"),
                key=_match(_IDENTITY, _require(raw_dataset, "key", str), "dataset key"),
                address=_match(_ADDRESS, _require(raw_dataset, "address", str), "dataset address"),
                filename=_filename(raw_dataset),
            )
        secrets = _requester_secrets(_require(data, "requester_secrets", dict))
        params = _require(data, "params", dict)
        _exact_keys(params, {"args", "input_files"}, "params")
        inputs = _require(params, "input_files", list)
        if not all(isinstance(url, str) for url in inputs):
            raise _invalid("input files must be URLs")
        upload = _require(data, "result_upload", dict)
        _exact_keys(upload, {"url", "token"}, "result_upload")
        developer_secret = data.get("app_developer_secret")
        if developer_secret is not None and not isinstance(developer_secret, str):
            raise _invalid("app developer secret must be a string")
        max_time = _require(data, "max_time", int)
        if max_time <= 0:
            raise _invalid("max_time must be positive")
        for key in ("beneficiary_recipient", "failure"):  # nullable, but never absent
            if key not in data:
                raise _invalid(f"missing field {key!r}")
        recipient = data["beneficiary_recipient"]
        if recipient is not None:
            recipient = _match(
                _RECIPIENT, _require(data, "beneficiary_recipient", str), "beneficiary recipient"
            )
        return cls(
            task_id=_match(_HEX32, _require(data, "task_id", str), "task id"),
            worker=_match(_ADDRESS, _require(data, "worker", str), "worker address"),
            enclave_key=_match(_HEX32, _require(data, "enclave_key", str), "enclave key"),
            beneficiary_recipient=recipient,
            result_upload=ResultUpload(
                url=_require(upload, "url", str), token=_require(upload, "token", str)
            ),
            max_time=max_time,
            params=TaskParams(args=_require(params, "args", str), input_files=tuple(inputs)),
            dataset=dataset,
            app_developer_secret=developer_secret,
            requester_secrets=secrets,
            failure=_failure(data["failure"]),
        )


def _requester_secrets(raw: Mapping[str, Any]) -> dict[int, str]:
    secrets: dict[int, str] = {}
    for index, value in raw.items():
        if not is_secret_index(index) or not isinstance(value, str):
            raise _invalid(f"requester secrets must map indexes 1 to {MAX_SECRET_INDEX} to strings")
        secrets[int(index)] = value
    return secrets


def _filename(raw_dataset: Mapping[str, Any]) -> str | None:
    if "filename" not in raw_dataset:
        raise _invalid("missing field 'filename'")
    name = raw_dataset["filename"]
    if name is None:
        return None
    if not isinstance(name, str):
        raise _invalid("field 'filename' has the wrong type")
    try:
        return check_dataset_filename(name)
    except ConfigError as error:
        raise _invalid(error.message) from error


def _failure(raw: Any) -> ReleaseFailure | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid("field 'failure' has the wrong type")
    _exact_keys(raw, {"code", "reason"}, "failure")
    code = _require(raw, "code", int)
    reason = _require(raw, "reason", str)
    if len(reason) > _MAX_REASON:
        raise _invalid("the failure reason is too long")
    try:
        return ReleaseFailure(FailureCode(code), reason)
    except ValueError as error:
        raise _invalid(f"unknown failure code {code}") from error
