"""The revert reasons of the sealrun contracts, with stable codes and sentences.

The contracts revert with short kebab-case strings (cheap to deploy); this table gives each
one the stable ``UPPER_SNAKE`` code and the sentence sealrun shows a user. It is the single
source: ``scripts/compile_contracts.py`` refuses to build artifacts if a contract has a
reason missing here (or this table has one no contract uses), and writes it out as
``adapters/chain/artifacts/revert_reasons.json`` for clients in other languages. The
matching rules in :mod:`sealrun.core.orders.matching` raise :class:`~sealrun.errors.OrderError`
with the same codes, so the SDK explains a mismatch in the contract's own words before any
gas is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["REVERT_REASONS", "RevertReason", "reason_for_code"]


@dataclass(frozen=True, slots=True)
class RevertReason:
    """One revert reason of a contract.

    Attributes:
        reason: the exact string the contract reverts with.
        code: the stable machine-readable code (used by OrderError / ChainError).
        sentence: what it means, for a human.
        contract: which contract reverts with it (``Hub``, ``Registry`` or ``Token``).
    """

    reason: str
    code: str
    sentence: str
    contract: str


_TABLE: Final[tuple[tuple[str, str, str, str], ...]] = (
    # matchOrders: compatibility (Hub)
    (
        "category-mismatch",
        "ORDER_CATEGORY_MISMATCH",
        "the request and workerpool orders name different categories",
        "Hub",
    ),
    (
        "category-unknown",
        "ORDER_CATEGORY_UNKNOWN",
        "the request order names a category the hub does not have",
        "Hub",
    ),
    (
        "trust-unsupported",
        "ORDER_TRUST_UNSUPPORTED",
        "the request asks for a trust level above 1; sealrun runs every task once, in a TEE",
        "Hub",
    ),
    (
        "trust-mismatch",
        "ORDER_TRUST_MISMATCH",
        "the workerpool order offers less trust than the request asks for",
        "Hub",
    ),
    ("app-price", "ORDER_APP_PRICE", "the app price is above the request's maximum app price", "Hub"),
    (
        "dataset-price",
        "ORDER_DATASET_PRICE",
        "the dataset price is above the request's maximum dataset price",
        "Hub",
    ),
    (
        "workerpool-price",
        "ORDER_WORKERPOOL_PRICE",
        "the workerpool price is above the request's maximum workerpool price",
        "Hub",
    ),
    (
        "tee-required",
        "ORDER_TEE_REQUIRED",
        "no order sets the TEE tag bit; sealrun only runs tasks in enclaves",
        "Hub",
    ),
    (
        "tag-coverage",
        "ORDER_TAG_NOT_COVERED",
        "the workerpool does not offer every tag bit the app, dataset or request requires",
        "Hub",
    ),
    ("app-mismatch", "ORDER_APP_MISMATCH", "the request order names another app than the app order", "Hub"),
    (
        "dataset-mismatch",
        "ORDER_DATASET_MISMATCH",
        "the request order names another dataset than the dataset order",
        "Hub",
    ),
    (
        "workerpool-mismatch",
        "ORDER_WORKERPOOL_MISMATCH",
        "the request order names another workerpool than the workerpool order",
        "Hub",
    ),
    (
        "app-dataset-restrict",
        "ORDER_APP_DATASET_RESTRICTED",
        "the app order is restricted to another dataset",
        "Hub",
    ),
    (
        "app-workerpool-restrict",
        "ORDER_APP_WORKERPOOL_RESTRICTED",
        "the app order is restricted to another workerpool",
        "Hub",
    ),
    (
        "app-requester-restrict",
        "ORDER_APP_REQUESTER_RESTRICTED",
        "the app order is restricted to another requester",
        "Hub",
    ),
    (
        "dataset-app-restrict",
        "ORDER_DATASET_APP_RESTRICTED",
        "the dataset order is restricted to another app",
        "Hub",
    ),
    (
        "dataset-workerpool-restrict",
        "ORDER_DATASET_WORKERPOOL_RESTRICTED",
        "the dataset order is restricted to another workerpool",
        "Hub",
    ),
    (
        "dataset-requester-restrict",
        "ORDER_DATASET_REQUESTER_RESTRICTED",
        "the dataset order is restricted to another requester",
        "Hub",
    ),
    (
        "workerpool-app-restrict",
        "ORDER_WORKERPOOL_APP_RESTRICTED",
        "the workerpool order is restricted to another app",
        "Hub",
    ),
    (
        "workerpool-dataset-restrict",
        "ORDER_WORKERPOOL_DATASET_RESTRICTED",
        "the workerpool order is restricted to another dataset",
        "Hub",
    ),
    (
        "workerpool-requester-restrict",
        "ORDER_WORKERPOOL_REQUESTER_RESTRICTED",
        "the workerpool order is restricted to another requester",
        "Hub",
    ),
    (
        "callback-not-contract",
        "ORDER_CALLBACK_NOT_CONTRACT",
        "the request's result callback is not a contract (no code at that address)",
        "Hub",
    ),
    ("app-unknown", "ORDER_APP_UNKNOWN", "the app is not registered", "Hub"),
    ("dataset-unknown", "ORDER_DATASET_UNKNOWN", "the dataset is not registered", "Hub"),
    ("workerpool-unknown", "ORDER_WORKERPOOL_UNKNOWN", "the workerpool is not registered", "Hub"),
    (
        "app-signature",
        "ORDER_APP_SIGNATURE",
        "the app order is neither signed nor pre-signed by the app's owner",
        "Hub",
    ),
    (
        "dataset-signature",
        "ORDER_DATASET_SIGNATURE",
        "the dataset order is neither signed nor pre-signed by the dataset's owner",
        "Hub",
    ),
    (
        "workerpool-signature",
        "ORDER_WORKERPOOL_SIGNATURE",
        "the workerpool order is neither signed nor pre-signed by the workerpool's owner",
        "Hub",
    ),
    (
        "request-signature",
        "ORDER_REQUEST_SIGNATURE",
        "the request order is neither signed nor pre-signed by its requester",
        "Hub",
    ),
    ("app-closed", "ORDER_APP_CLOSED", "the app order was closed by its signer", "Hub"),
    ("dataset-closed", "ORDER_DATASET_CLOSED", "the dataset order was closed by its signer", "Hub"),
    ("workerpool-closed", "ORDER_WORKERPOOL_CLOSED", "the workerpool order was closed by its signer", "Hub"),
    ("request-closed", "ORDER_REQUEST_CLOSED", "the request order was closed by its signer", "Hub"),
    ("app-volume", "ORDER_APP_VOLUME", "the app order's volume is used up", "Hub"),
    ("dataset-volume", "ORDER_DATASET_VOLUME", "the dataset order's volume is used up", "Hub"),
    ("workerpool-volume", "ORDER_WORKERPOOL_VOLUME", "the workerpool order's volume is used up", "Hub"),
    ("request-volume", "ORDER_REQUEST_VOLUME", "the request order's volume is used up", "Hub"),
    (
        "requester-balance",
        "ORDER_REQUESTER_BALANCE",
        "the requester's free balance does not cover price x volume",
        "Hub",
    ),
    (
        "workerpool-stake",
        "ORDER_WORKERPOOL_STAKE",
        "the workerpool owner's free balance does not cover the scheduler stake",
        "Hub",
    ),
    # order management (Hub)
    (
        "not-order-signer",
        "ORDER_NOT_SIGNER",
        "only the order's signer (asset owner or requester) may pre-sign or close it",
        "Hub",
    ),
    # tasks (Hub)
    (
        "deal-unknown",
        "TASK_DEAL_UNKNOWN",
        "no deal with this content was matched (the deal passed back differs from the one emitted)",
        "Hub",
    ),
    (
        "deadline-passed",
        "TASK_DEADLINE_PASSED",
        "the deal's final deadline has passed; the task can only be claimed",
        "Hub",
    ),
    (
        "deadline-not-reached",
        "TASK_DEADLINE_NOT_REACHED",
        "the deal's final deadline has not passed yet; the task cannot be claimed",
        "Hub",
    ),
    ("task-index", "TASK_INDEX", "the task index is not below the deal's volume", "Hub"),
    ("task-completed", "TASK_COMPLETED", "the task is already completed", "Hub"),
    ("task-failed", "TASK_FAILED", "the task already closed with a failure receipt", "Hub"),
    ("task-claimed", "TASK_CLAIMED", "the task was already claimed after its deadline", "Hub"),
    ("digest-invalid", "TASK_DIGEST_INVALID", "result digests 0 to 3 are reserved for task states", "Hub"),
    ("enclave-missing", "TASK_ENCLAVE_MISSING", "the enclave challenge address is zero", "Hub"),
    (
        "authorization-invalid",
        "TASK_AUTHORIZATION_INVALID",
        "the scheduler's authorization is not the pool owner's signature over (this worker, task, enclave)",
        "Hub",
    ),
    (
        "enclave-signature",
        "TASK_ENCLAVE_SIGNATURE",
        "the result or failure receipt is not signed by the enclave challenge key",
        "Hub",
    ),
    ("failure-code", "TASK_FAILURE_CODE", "failure code 0 is not a failure", "Hub"),
    ("batch-empty", "TASK_BATCH_EMPTY", "the batch holds no task", "Hub"),
    (
        "callback-gas",
        "TASK_CALLBACK_GAS",
        "the transaction's gas left cannot forward the callback's full 200,000 gas cap",
        "Hub",
    ),
    # hub owner and categories (Hub)
    ("not-hub-owner", "HUB_NOT_OWNER", "only the hub owner may do this", "Hub"),
    ("category-time", "HUB_CATEGORY_TIME", "a category's maximum execution time must be above zero", "Hub"),
    # accounts (Hub)
    ("amount-zero", "ACCOUNT_AMOUNT_ZERO", "the amount is zero", "Hub"),
    ("balance-insufficient", "ACCOUNT_BALANCE_INSUFFICIENT", "the free balance is below the amount", "Hub"),
    ("deposit-overflow", "ACCOUNT_DEPOSIT_OVERFLOW", "the hub cannot hold 2**128 tokens or more", "Hub"),
    ("transfer-failed", "ACCOUNT_TRANSFER_FAILED", "the escrow token refused the transfer", "Hub"),
    ("zero-address", "ADDRESS_ZERO", "the address is the zero address", "Hub"),
    # registry (Registry)
    ("name-empty", "REGISTRY_NAME_EMPTY", "the asset's name (or pool description) is empty", "Registry"),
    ("fingerprint-empty", "REGISTRY_FINGERPRINT_EMPTY", "the app's enclave fingerprint is zero", "Registry"),
    (
        "tee-technology",
        "REGISTRY_TEE_TECHNOLOGY",
        "the app's TEE technology must be a non-empty subset of tag bits 1-4",
        "Registry",
    ),
    (
        "asset-exists",
        "REGISTRY_ASSET_EXISTS",
        "this creator already registered an asset of this kind with this name",
        "Registry",
    ),
    (
        "ratio-invalid",
        "REGISTRY_RATIO_INVALID",
        "a workerpool ratio must be a percentage (0-100)",
        "Registry",
    ),
    ("not-asset-owner", "REGISTRY_NOT_OWNER", "only the asset's owner may do this", "Registry"),
    # dataset grants (Registry; the grant-* checks of useGrant revert matchOrders)
    (
        "grant-uses",
        "REGISTRY_GRANT_USES",
        "a grant's maximum number of uses must be 1 to 2**64 - 1",
        "Registry",
    ),
    ("grant-price-range", "REGISTRY_GRANT_PRICE", "a grant's price must be below 2**128", "Registry"),
    (
        "grant-expiry",
        "REGISTRY_GRANT_EXPIRY",
        "a grant's expiry must be in the future (and below 2**64)",
        "Registry",
    ),
    ("grant-unknown", "ORDER_GRANT_UNKNOWN", "no such grant on this dataset", "Registry"),
    (
        "grant-owner",
        "ORDER_GRANT_OWNER",
        "the dataset changed owner since the grant was made; the grant no longer holds",
        "Registry",
    ),
    ("grant-revoked", "ORDER_GRANT_REVOKED", "the dataset owner revoked this grant", "Registry"),
    ("grant-expired", "ORDER_GRANT_EXPIRED", "the grant has expired", "Registry"),
    ("grant-app", "ORDER_GRANT_APP", "the grant is for another app", "Registry"),
    ("grant-requester", "ORDER_GRANT_REQUESTER", "the grant is for another requester", "Registry"),
    ("grant-workerpool", "ORDER_GRANT_WORKERPOOL", "the grant is for another workerpool", "Registry"),
    ("grant-price", "ORDER_GRANT_PRICE", "the dataset order's price is not the grant's price", "Registry"),
    ("grant-exhausted", "ORDER_GRANT_EXHAUSTED", "every use of the grant is spent", "Registry"),
    # escrow token (Token)
    (
        "token: transfer to zero",
        "TOKEN_TRANSFER_TO_ZERO",
        "tokens cannot be sent to the zero address",
        "Token",
    ),
    ("token: balance too low", "TOKEN_BALANCE_TOO_LOW", "the token balance is below the amount", "Token"),
    (
        "token: allowance too low",
        "TOKEN_ALLOWANCE_TOO_LOW",
        "the token allowance is below the amount",
        "Token",
    ),
    ("token: not owner", "TOKEN_NOT_OWNER", "only the token owner may mint", "Token"),
    ("token: mint to zero", "TOKEN_MINT_TO_ZERO", "tokens cannot be minted to the zero address", "Token"),
)

#: reason string -> RevertReason, in the table's order.
REVERT_REASONS: Final = MappingProxyType(
    {reason: RevertReason(reason, code, sentence, contract) for reason, code, sentence, contract in _TABLE}
)
_BY_CODE: Final = MappingProxyType({entry.code: entry for entry in REVERT_REASONS.values()})


def reason_for_code(code: str) -> RevertReason:
    """Return the table entry whose stable code is ``code``.

    Raises:
        KeyError: if no contract reverts with that code.
    """
    return _BY_CODE[code]
