"""sealrun: run a program over private data on machines you don't trust.

This module is the SDK facade: every public name is listed in ``__all__`` (sorted) and
imported from the private module that defines it. Importing it does no work.
"""

from sealrun.core.attestation import (
    Claims,
    Evidence,
    EvidenceType,
    SimulatedVerifier,
    SimulatorKey,
    SimulatorPublicKey,
    make_simulated_evidence,
    report_data_for,
    verify_report_data,
)
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
    "Claims",
    "ConfigError",
    "EnclaveError",
    "Evidence",
    "EvidenceType",
    "OrderError",
    "RequestError",
    "SandboxError",
    "SealError",
    "SealrunError",
    "SecretError",
    "ServiceError",
    "SimulatedVerifier",
    "SimulatorKey",
    "SimulatorPublicKey",
    "StorageError",
    "UnpackError",
    "WalletError",
    "make_simulated_evidence",
    "report_data_for",
    "verify_report_data",
]
