"""sealrun: run a program over private data on machines you don't trust.

This module is the SDK facade: every public name is listed in ``__all__`` (sorted) and
resolved lazily (PEP 562) from the private module that defines it, so importing
``sealrun`` does no work and a command that needs no chain never loads web3. Type
checkers see the same names through the ``TYPE_CHECKING`` imports below;
``tests/unit/test_exports.py`` checks the two lists agree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sealrun.adapters.bundlefiles import (
        AppBundle,
        load_bundle,
    )
    from sealrun.adapters.chain import (
        AnvilNode,
        App,
        Balance,
        Category,
        ChainEvent,
        ChainServer,
        Checkpoint,
        Dataset,
        Deal,
        DealIndex,
        Deployment,
        EmbeddedChain,
        EventReader,
        FileCheckpoint,
        HubChainReader,
        HubClient,
        HubTaskStatus,
        Marketplace,
        Receipt,
        RegistryClient,
        Rpc,
        SqlCheckpoint,
        Task,
        TokenClient,
        TransactionSender,
        Workerpool,
        deploy_marketplace,
        find_anvil,
        fund_accounts,
    )
    from sealrun.adapters.http.market import MarketClient
    from sealrun.adapters.http.scheduler import SchedulerClient
    from sealrun.adapters.http.signing import SignedRequestAuth
    from sealrun.adapters.http.sms import (
        Released,
        SmsClient,
    )
    from sealrun.adapters.http.store import StoreClient
    from sealrun.adapters.keystore import (
        Keystore,
        PasswordSource,
        Wallet,
    )
    from sealrun.adapters.profiles import (
        ChainProfile,
        ProjectConfig,
    )
    from sealrun.adapters.sandbox import (
        BubblewrapSandbox,
        SandboxLimits,
    )
    from sealrun.adapters.sealedfiles import (
        OpenedPath,
        SealedFile,
        open_path,
        read_identity,
        read_recipient,
        seal_path,
        write_identity,
    )
    from sealrun.adapters.tee import (
        EnclaveLaunch,
        RunReport,
        SimulatedTee,
    )
    from sealrun.api.store import BlobOut
    from sealrun.core.attestation import (
        Claims,
        Evidence,
        EvidenceType,
        EvidenceVerifier,
        Policy,
        PolicyVerdict,
        SimulatedVerifier,
        SimulatorKey,
        SimulatorPublicKey,
        make_simulated_evidence,
        report_data_for,
        standard_verifier,
        verify_report_data,
    )
    from sealrun.core.bundles import (
        AppManifest,
        bundle_fingerprint,
        parse_manifest,
    )
    from sealrun.core.chainstate import (
        ChainReader,
    )
    from sealrun.core.orders import (
        AppOrder,
        DatasetOrder,
        Domain,
        MatchContext,
        MatchPlan,
        RequestOrder,
        TagBit,
        WorkerpoolOrder,
        check_match,
        dumps_order,
        loads_order,
        make_tag,
        order_hash,
        recover_order_signer,
        sign_order,
        typed_data,
    )
    from sealrun.core.requests import (
        RequestDomain,
        sign_request,
    )
    from sealrun.core.sealing import (
        Identity,
        OpenInfo,
        Recipient,
        SealInfo,
        open_bytes,
        open_stream,
        seal_bytes,
        seal_stream,
    )
    from sealrun.core.secretrules import (
        check_secret_name,
        check_secret_value,
    )
    from sealrun.core.tasks import (
        FailureCode,
    )
    from sealrun.core.uploads import (
        UploadGrant,
        mint_upload_token,
        verify_upload_token,
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
    from sealrun.requester import (
        AppDeveloper,
        Connection,
        DataOwner,
        Requester,
        TaskHandle,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "sealrun.adapters.bundlefiles": (
        "AppBundle",
        "load_bundle",
    ),
    "sealrun.adapters.chain": (
        "AnvilNode",
        "App",
        "Balance",
        "Category",
        "ChainEvent",
        "ChainServer",
        "Checkpoint",
        "Dataset",
        "Deal",
        "DealIndex",
        "Deployment",
        "EmbeddedChain",
        "EventReader",
        "FileCheckpoint",
        "HubChainReader",
        "HubClient",
        "HubTaskStatus",
        "Marketplace",
        "Receipt",
        "RegistryClient",
        "Rpc",
        "SqlCheckpoint",
        "Task",
        "TokenClient",
        "TransactionSender",
        "Workerpool",
        "deploy_marketplace",
        "find_anvil",
        "fund_accounts",
    ),
    "sealrun.adapters.keystore": (
        "Keystore",
        "PasswordSource",
        "Wallet",
    ),
    "sealrun.adapters.profiles": (
        "ChainProfile",
        "ProjectConfig",
    ),
    "sealrun.adapters.sandbox": (
        "BubblewrapSandbox",
        "SandboxLimits",
    ),
    "sealrun.adapters.sealedfiles": (
        "OpenedPath",
        "SealedFile",
        "open_path",
        "read_identity",
        "read_recipient",
        "seal_path",
        "write_identity",
    ),
    "sealrun.adapters.http.market": ("MarketClient",),
    "sealrun.adapters.http.scheduler": ("SchedulerClient",),
    "sealrun.adapters.http.sms": (
        "Released",
        "SmsClient",
    ),
    "sealrun.adapters.http.signing": ("SignedRequestAuth",),
    "sealrun.adapters.http.store": ("StoreClient",),
    "sealrun.api.store": ("BlobOut",),
    "sealrun.adapters.tee": (
        "EnclaveLaunch",
        "RunReport",
        "SimulatedTee",
    ),
    "sealrun.requester": (
        "AppDeveloper",
        "Connection",
        "DataOwner",
        "Requester",
        "TaskHandle",
    ),
    "sealrun.core.attestation": (
        "Claims",
        "Evidence",
        "EvidenceType",
        "EvidenceVerifier",
        "Policy",
        "PolicyVerdict",
        "SimulatedVerifier",
        "SimulatorKey",
        "SimulatorPublicKey",
        "make_simulated_evidence",
        "report_data_for",
        "standard_verifier",
        "verify_report_data",
    ),
    "sealrun.core.bundles": (
        "AppManifest",
        "bundle_fingerprint",
        "parse_manifest",
    ),
    "sealrun.core.chainstate": ("ChainReader",),
    "sealrun.core.orders": (
        "AppOrder",
        "DatasetOrder",
        "Domain",
        "MatchContext",
        "MatchPlan",
        "RequestOrder",
        "TagBit",
        "WorkerpoolOrder",
        "check_match",
        "check_secret_name",
        "check_secret_value",
        "dumps_order",
        "loads_order",
        "make_tag",
        "order_hash",
        "recover_order_signer",
        "sign_order",
        "typed_data",
    ),
    "sealrun.core.requests": (
        "RequestDomain",
        "sign_request",
    ),
    "sealrun.core.secretrules": (
        "check_secret_name",
        "check_secret_value",
    ),
    "sealrun.core.sealing": (
        "Identity",
        "OpenInfo",
        "Recipient",
        "SealInfo",
        "open_bytes",
        "open_stream",
        "seal_bytes",
        "seal_stream",
    ),
    "sealrun.core.tasks": ("FailureCode",),
    "sealrun.core.uploads": (
        "UploadGrant",
        "mint_upload_token",
        "verify_upload_token",
    ),
    "sealrun.errors": (
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
    ),
}
_ORIGIN = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AnvilNode",
    "App",
    "AppBundle",
    "AppDeveloper",
    "AppManifest",
    "AppOrder",
    "AttestationError",
    "Balance",
    "BlobOut",
    "BubblewrapSandbox",
    "Category",
    "ChainError",
    "ChainEvent",
    "ChainProfile",
    "ChainReader",
    "ChainServer",
    "Checkpoint",
    "Claims",
    "ConfigError",
    "Connection",
    "DataOwner",
    "Dataset",
    "DatasetOrder",
    "Deal",
    "DealIndex",
    "Deployment",
    "Domain",
    "EmbeddedChain",
    "EnclaveError",
    "EnclaveLaunch",
    "EventReader",
    "Evidence",
    "EvidenceType",
    "EvidenceVerifier",
    "FailureCode",
    "FileCheckpoint",
    "HubChainReader",
    "HubClient",
    "HubTaskStatus",
    "Identity",
    "Keystore",
    "MarketClient",
    "Marketplace",
    "MatchContext",
    "MatchPlan",
    "OpenInfo",
    "OpenedPath",
    "OrderError",
    "PasswordSource",
    "Policy",
    "PolicyVerdict",
    "ProjectConfig",
    "Receipt",
    "Recipient",
    "RegistryClient",
    "Released",
    "RequestDomain",
    "RequestError",
    "RequestOrder",
    "Requester",
    "Rpc",
    "RunReport",
    "SandboxError",
    "SandboxLimits",
    "SchedulerClient",
    "SealError",
    "SealInfo",
    "SealedFile",
    "SealrunError",
    "SecretError",
    "ServiceError",
    "SignedRequestAuth",
    "SimulatedTee",
    "SimulatedVerifier",
    "SimulatorKey",
    "SimulatorPublicKey",
    "SmsClient",
    "SqlCheckpoint",
    "StorageError",
    "StoreClient",
    "TagBit",
    "Task",
    "TaskHandle",
    "TokenClient",
    "TransactionSender",
    "UnpackError",
    "UploadGrant",
    "Wallet",
    "WalletError",
    "Workerpool",
    "WorkerpoolOrder",
    "bundle_fingerprint",
    "check_match",
    "check_secret_name",
    "check_secret_value",
    "deploy_marketplace",
    "dumps_order",
    "find_anvil",
    "fund_accounts",
    "load_bundle",
    "loads_order",
    "make_simulated_evidence",
    "make_tag",
    "mint_upload_token",
    "open_bytes",
    "open_path",
    "open_stream",
    "order_hash",
    "parse_manifest",
    "read_identity",
    "read_recipient",
    "recover_order_signer",
    "report_data_for",
    "seal_bytes",
    "seal_path",
    "seal_stream",
    "sign_order",
    "sign_request",
    "standard_verifier",
    "typed_data",
    "verify_report_data",
    "verify_upload_token",
    "write_identity",
]


def __getattr__(name: str) -> Any:
    module = _ORIGIN.get(name)
    if module is None:
        raise AttributeError(f"module 'sealrun' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
