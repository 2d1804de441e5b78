"""The one exception tree of sealrun.

Every failure that crosses a module boundary is a :class:`SealrunError` carrying a
stable, machine-readable ``code`` (``UPPER_SNAKE``) and a human sentence. Codes are
part of the public contract: scripts match on them, so a code is never renamed.
Third-party exceptions are translated into this tree at the boundary where they
occur; they are turned into words only at the edges (CLI line, HTTP problem JSON).

::

    SealrunError
    ├── ConfigError        bad settings, bad CLI arguments, missing files
    ├── SealError          sealing / opening data (SEAL_*)
    │   └── UnpackError    hostile or oversized archives (UNPACK_*)
    ├── OrderError         order fields, signatures, matching (ORDER_*)
    ├── ChainError         RPC, transactions, reverts (CHAIN_*)
    ├── AttestationError   evidence parsing, verification, policy (ATTEST_*)
    ├── SecretError        secret storage and release (SECRET_*)
    ├── SandboxError       the app sandbox (SANDBOX_*)
    ├── EnclaveError       enclave runtime, bundles, receipts (ENCLAVE_*)
    ├── StorageError       blob store, downloads (STORAGE_*)
    ├── WalletError        keystores and passwords (WALLET_*)
    ├── ServiceError       HTTP services and their clients (SERVICE_*)
    └── RequestError       signed-request authentication (REQUEST_*)
"""

from __future__ import annotations

__all__ = [
    "AttestationError",
    "ChainError",
    "ConfigError",
    "EnclaveError",
    "OrderError",
    "ReleaseError",
    "RequestError",
    "SandboxError",
    "SealError",
    "SealrunError",
    "SecretError",
    "ServiceError",
    "StorageError",
    "UnpackError",
    "WalletError",
]


class SealrunError(Exception):
    """Base of every sealrun error.

    Args:
        message: one sentence for a human, naming the problem.
        code: the stable machine-readable code; defaults to the class's ``default_code``.
    """

    default_code = "SEALRUN_ERROR"

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


class SealError(SealrunError):
    """Sealing or opening data failed (tampered, truncated, wrong key, not sealed...)."""

    default_code = "SEAL_ERROR"


class UnpackError(SealError):
    """An archive inside sealed data is hostile or too large to unpack."""

    default_code = "UNPACK_REFUSED"


class OrderError(SealrunError):
    """An order is malformed, badly signed, or does not match its counterparts."""

    default_code = "ORDER_INVALID"


class ChainError(SealrunError):
    """The chain refused, reverted or could not be reached."""

    default_code = "CHAIN_ERROR"


class AttestationError(SealrunError):
    """Evidence did not parse, did not verify, or failed the policy."""

    default_code = "ATTEST_ERROR"


class SecretError(SealrunError):
    """A secret could not be stored or released."""

    default_code = "SECRET_ERROR"


class ReleaseError(SecretError):
    """The SMS refused to release a task's secrets to an enclave."""

    default_code = "RELEASE_REFUSED"


class SandboxError(SealrunError):
    """The app sandbox could not start or the app broke its limits."""

    default_code = "SANDBOX_ERROR"


class EnclaveError(SealrunError):
    """The enclave runtime failed (bundle, pre-compute, post-compute, receipts)."""

    default_code = "ENCLAVE_ERROR"


class StorageError(SealrunError):
    """A blob could not be stored or fetched."""

    default_code = "STORAGE_ERROR"


class WalletError(SealrunError):
    """A keystore could not be created, read or unlocked."""

    default_code = "WALLET_ERROR"


class ServiceError(SealrunError):
    """An HTTP service answered with an error or could not be reached."""

    default_code = "SERVICE_ERROR"


class RequestError(SealrunError):
    """A signed request is unsigned, malformed, badly signed, stale or replayed."""

    default_code = "REQUEST_INVALID"
