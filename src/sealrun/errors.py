"""The one exception tree of sealrun.

Every failure that crosses a module boundary is a :class:`SealrunError` carrying a
stable, machine-readable ``code`` (``UPPER_SNAKE``) and a human sentence. Codes are
part of the public contract: scripts match on them, so a code is never renamed.
Third-party exceptions are translated into this tree at the boundary where they
occur; they are turned into words only at the edges (CLI line, HTTP problem JSON).

Every class declares the code *families* it owns (``families``: code prefixes, matched
on whole words: ``RELEASE`` owns ``RELEASE_NONCE_USED``); a code is raised only by a class
that owns its family, and a family that is its own thing has its own subclass, so an
``except`` on the parent still catches it. ``tests/unit/test_error_families.py`` checks
every raise site of ``src/`` against this table. Some codes predate the families and share a
word across two meanings (``BUNDLE_INVALID`` is raised for an app bundle and for a secrets
bundle); codes are never renamed, so each of those classes owns the word.

::

    SealrunError
    ├── ConfigError          bad settings, arguments and local files
    │   │                    (CONFIG, INVALID, FILE, KEY_FILE, OUTPUT, PROFILE, DEVNET, SMS,
    │   │                    SECRET_FILE, FETCH_POLICY, DATASET_FILENAME, SERVICE_URL,
    │   │                    TEE_INPUTS, TLS)
    │   └── UsageError       a command used the wrong way, or not confirmed (USAGE,
    │                        CANCELLED, CONFIRMATION)
    ├── SealError            sealing / opening data (SEAL)
    │   └── UnpackError      hostile or oversized archives (UNPACK)
    ├── OrderError           order fields, signatures, matching (ORDER, SIGNATURE)
    ├── ChainError           RPC, transactions, reverts, the local node (CHAIN, ANVIL)
    ├── AttestationError     evidence parsing, verification, policy (ATTEST)
    ├── SecretError          secret storage at the SMS (SECRET, AUDIT)
    │   ├── ReleaseError     the SMS refused to release a task's secrets (RELEASE)
    │   └── SecretsBundleError  the sealed secrets bundle an enclave receives (BUNDLE)
    ├── SandboxError         the app sandbox (SANDBOX)
    ├── EnclaveError         enclave runtime, inputs, reports, quotes (ENCLAVE, INPUT, REPORT,
    │   │                    QUOTE, SIMULATOR_KEY)
    │   └── AppBundleError   an app bundle and its manifest (BUNDLE, MANIFEST)
    ├── StorageError         blob store, downloads, upload tokens (STORAGE, UPLOAD)
    │   └── DatabaseError    a service's database (DB)
    ├── WalletError          keystores and passwords (WALLET)
    ├── ServiceError         HTTP services and their clients (SERVICE, MARKET, SCHEDULER,
    │                        WORKER, ASSIGNMENT, STATUS, TASK_UNKNOWN, APP_UNKNOWN,
    │                        BUNDLE_UNAVAILABLE, DEVNET_START, EVENTS, WEBHOOK)
    ├── TaskError            a task not in the state an operation needs (TASK)
    ├── DemoError            a demo's own self-check failed (DEMO)
    ├── ReceiptError         task receipts: their document and their fetching (RECEIPT)
    └── RequestError         signed-request authentication (REQUEST)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AppBundleError",
    "AttestationError",
    "ChainError",
    "ConfigError",
    "DatabaseError",
    "DemoError",
    "EnclaveError",
    "OrderError",
    "ReceiptError",
    "ReleaseError",
    "RequestError",
    "SandboxError",
    "SealError",
    "SealrunError",
    "SecretError",
    "SecretsBundleError",
    "ServiceError",
    "StorageError",
    "TaskError",
    "UnpackError",
    "UsageError",
    "WalletError",
]


class SealrunError(Exception):
    """Base of every sealrun error.

    Args:
        message: one sentence for a human, naming the problem.
        code: the stable machine-readable code; defaults to the class's ``default_code``.
    """

    default_code = "SEALRUN_ERROR"
    #: The code families (prefixes) this class raises; see the module docstring.
    families: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def owns(cls, code: str) -> bool:
        """Whether ``code`` is in one of this class's families (whole words: ``DB`` owns ``DB_X``)."""
        return any(code == family or code.startswith(family + "_") for family in cls.families)

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigError(SealrunError):
    """Bad configuration or arguments."""

    default_code = "CONFIG_INVALID"
    families: ClassVar[tuple[str, ...]] = (
        "CONFIG",
        "INVALID",
        "FILE",
        "KEY_FILE",
        "OUTPUT",
        "PROFILE",
        "DEVNET",
        "SMS",
        "SECRET_FILE",
        "FETCH_POLICY",
        "DATASET_FILENAME",
        "SERVICE_URL",
        "TEE_INPUTS",
        "TLS",
    )


class UsageError(ConfigError):
    """A command was used the wrong way (missing or conflicting arguments)."""

    default_code = "USAGE"
    families: ClassVar[tuple[str, ...]] = ("USAGE", "CANCELLED", "CONFIRMATION")


class SealError(SealrunError):
    """Sealing or opening data failed (tampered, truncated, wrong key, not sealed...)."""

    default_code = "SEAL_ERROR"
    families: ClassVar[tuple[str, ...]] = ("SEAL",)


class UnpackError(SealError):
    """An archive inside sealed data is hostile or too large to unpack."""

    default_code = "UNPACK_REFUSED"
    families: ClassVar[tuple[str, ...]] = ("UNPACK",)


class OrderError(SealrunError):
    """An order is malformed, badly signed, or does not match its counterparts."""

    default_code = "ORDER_INVALID"
    families: ClassVar[tuple[str, ...]] = ("ORDER", "SIGNATURE")


class ChainError(SealrunError):
    """The chain refused, reverted or could not be reached."""

    default_code = "CHAIN_ERROR"
    families: ClassVar[tuple[str, ...]] = ("CHAIN", "ANVIL")


class AttestationError(SealrunError):
    """Evidence did not parse, did not verify, or failed the policy."""

    default_code = "ATTEST_ERROR"
    families: ClassVar[tuple[str, ...]] = ("ATTEST",)


class SecretError(SealrunError):
    """A secret could not be stored or released."""

    default_code = "SECRET_ERROR"
    families: ClassVar[tuple[str, ...]] = ("SECRET", "AUDIT")


class ReleaseError(SecretError):
    """The SMS refused to release a task's secrets to an enclave."""

    default_code = "RELEASE_REFUSED"
    families: ClassVar[tuple[str, ...]] = ("RELEASE",)


class SecretsBundleError(SecretError):
    """The sealed secrets bundle an enclave receives is unreadable, invalid or not its own."""

    default_code = "BUNDLE_INVALID"
    families: ClassVar[tuple[str, ...]] = ("BUNDLE",)


class SandboxError(SealrunError):
    """The app sandbox could not start or the app broke its limits."""

    default_code = "SANDBOX_ERROR"
    families: ClassVar[tuple[str, ...]] = ("SANDBOX",)


class EnclaveError(SealrunError):
    """The enclave runtime failed (bundle, pre-compute, post-compute, receipts)."""

    default_code = "ENCLAVE_ERROR"
    families: ClassVar[tuple[str, ...]] = ("ENCLAVE", "INPUT", "REPORT", "QUOTE", "SIMULATOR_KEY")


class AppBundleError(EnclaveError):
    """An app bundle or its manifest is missing or invalid."""

    default_code = "BUNDLE_INVALID"
    families: ClassVar[tuple[str, ...]] = ("BUNDLE", "MANIFEST")


class StorageError(SealrunError):
    """A blob could not be stored or fetched."""

    default_code = "STORAGE_ERROR"
    families: ClassVar[tuple[str, ...]] = ("STORAGE", "UPLOAD")


class DatabaseError(StorageError):
    """A service's database is unreachable, misconfigured or contended."""

    default_code = "DB_UNAVAILABLE"
    families: ClassVar[tuple[str, ...]] = ("DB",)


class WalletError(SealrunError):
    """A keystore could not be created, read or unlocked."""

    default_code = "WALLET_ERROR"
    families: ClassVar[tuple[str, ...]] = ("WALLET",)


class ServiceError(SealrunError):
    """An HTTP service answered with an error or could not be reached."""

    default_code = "SERVICE_ERROR"
    families: ClassVar[tuple[str, ...]] = (
        "SERVICE",
        "MARKET",
        "SCHEDULER",
        "WORKER",
        "ASSIGNMENT",
        "STATUS",
        "TASK_UNKNOWN",
        "APP_UNKNOWN",
        "BUNDLE_UNAVAILABLE",
        "DEVNET_START",
        "EVENTS",
        "WEBHOOK",
    )


class TaskError(SealrunError):
    """A task is not in the state an operation needs (not completed, no logs, not seen in time)."""

    default_code = "TASK_STATE"
    families: ClassVar[tuple[str, ...]] = ("TASK",)


class DemoError(SealrunError):
    """A demo's own end-to-end self-check failed (the round trip or the age interop)."""

    default_code = "DEMO_FAILED"
    families: ClassVar[tuple[str, ...]] = ("DEMO",)


class ReceiptError(SealrunError):
    """A task receipt that cannot be read, or fetched (``docs/formats.md``, Task receipt)."""

    default_code = "RECEIPT_INVALID"
    families: ClassVar[tuple[str, ...]] = ("RECEIPT",)


class RequestError(SealrunError):
    """A signed request is unsigned, malformed, badly signed, stale or replayed."""

    default_code = "REQUEST_INVALID"
    families: ClassVar[tuple[str, ...]] = ("REQUEST",)
