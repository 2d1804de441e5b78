"""sealrun: run a program over private data on machines you don't trust.

This module is the SDK facade: every public name is listed in ``__all__`` (sorted) and
imported from the private module that defines it. Importing it does no work.
"""

from sealrun.errors import (
    AttestationError,
    ChainError,
    ConfigError,
    EnclaveError,
    OrderError,
    RequestError,
    SandboxError,
    SealError,
    SealrunError,
    SecretError,
    ServiceError,
    StorageError,
    UnpackError,
    WalletError,
)

__all__ = [
    "AttestationError",
    "ChainError",
    "ConfigError",
    "EnclaveError",
    "OrderError",
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
