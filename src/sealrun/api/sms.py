"""The SMS's wire contract: its routes and HTTP bodies (pydantic).

Every field has a size limit; no write returns a value. :class:`Routes` are the paths the
service declares and :class:`sealrun.adapters.http.sms.SmsClient` fills.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sealrun.api.fields import ADDRESS_PATTERN, HEX32_PATTERN
from sealrun.core.secretrules import MAX_SECRET_VALUE, SECRET_NAME_PATTERN

__all__ = [
    "ADDRESS_PATTERN",
    "HEX32_PATTERN",
    "SECRET_NAME_PATTERN",
    "AuditLinkOut",
    "AuditPage",
    "AuditRecordOut",
    "ChallengeOut",
    "DatasetKeyIn",
    "DatasetPolicyOut",
    "EvidenceIn",
    "HealthOut",
    "NonceOut",
    "RecipientIn",
    "RecipientOut",
    "ReleaseIn",
    "ReleaseOut",
    "RequesterSecretNameOut",
    "RequesterSecretsOut",
    "Routes",
    "SecretIn",
    "SecretStatusOut",
    "SessionIn",
    "SessionNonceOut",
    "SessionOut",
    "SessionReleaseIn",
    "SignedReleaseOut",
]

MAX_EVIDENCE_CHARS = 1_400_000


class Routes:
    """The SMS's paths (``str.format`` templates; the service declares exactly these)."""

    HEALTH = "/v1/health"
    DATASET_KEY = "/v1/datasets/{dataset}/key"
    DATASET_AUDIT = "/v1/datasets/{dataset}/audit"
    DATASET_POLICY = "/v1/datasets/{dataset}/policy"
    APP_SECRET = "/v1/apps/{app}/secret"  # noqa: S105  # a path, not a secret
    REQUESTER_SECRETS = "/v1/requesters/{requester}/secrets"
    REQUESTER_SECRET = "/v1/requesters/{requester}/secrets/{name}"  # noqa: S105  # a path
    RECIPIENT = "/v1/beneficiaries/{beneficiary}/recipient"
    ENCLAVE_CHALLENGE = "/v1/tasks/{task_id}/enclave-challenge"
    NONCE = "/v1/tasks/{task_id}/nonce"
    RELEASE = "/v1/tasks/{task_id}/release"
    SESSION_NONCE = "/v1/sessions/nonce"
    SESSIONS = "/v1/sessions"
    SESSION_RELEASE = "/v1/tasks/{task_id}/session-release"
    AUDIT_HEAD = "/v1/audit/head"
    AUDIT_LINK = "/v1/audit/links/{seq}"


Address = Annotated[str, Field(pattern=ADDRESS_PATTERN, examples=["0x" + "ab" * 20])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetKeyIn(_Strict):
    """A dataset's age identity."""

    key: str = Field(min_length=1, max_length=128, description="AGE-SECRET-KEY-1…")
    filename: str | None = Field(
        default=None,
        max_length=1024,
        description="the dataset's file name in IEXEC_IN (IEXEC_DATASET_FILENAME); default: its address",
    )


class DatasetPolicyOut(BaseModel):
    """A dataset owner's release policy (public: requesters may read the rules before buying).

    The body of ``PUT`` is the policy document itself (JSON, version 1, at most 8 KiB; see
    docs/decisions/0090-owner-release-policy.md), parsed by the SMS, not by this model.
    """

    dataset: str
    owner: str
    policy: dict[str, object] = Field(description="the canonical policy document")
    digest: str = Field(description="0x + sha256 of the canonical document (what the audit log records)")
    updated_at: int


class SecretIn(_Strict):
    """An app developer secret or a requester secret."""

    value: str = Field(min_length=1, max_length=MAX_SECRET_VALUE)


class RecipientIn(_Strict):
    """A beneficiary's age recipient."""

    recipient: str = Field(min_length=1, max_length=100, description="age1…")


class SecretStatusOut(BaseModel):
    """That a secret exists: its subject, who wrote it, when (UNIX seconds)."""

    subject: str
    owner: str | None
    updated_at: int


class RequesterSecretNameOut(BaseModel):
    """One of a requester's secrets: its name and when it was last written (never its value)."""

    name: str
    updated_at: int


class RequesterSecretsOut(BaseModel):
    """A page of a requester's secret names, sorted; ask again with ``after=<last name>``."""

    requester: str
    secrets: list[RequesterSecretNameOut]


class RecipientOut(BaseModel):
    """A beneficiary's result recipient (public)."""

    beneficiary: str
    recipient: str


class ChallengeOut(BaseModel):
    """The task's enclave challenge address."""

    task_id: str
    enclave_challenge: str


class NonceOut(BaseModel):
    """A single-use attestation nonce and its expiry (UNIX seconds)."""

    task_id: str
    nonce: str
    expires_at: int


class EvidenceIn(_Strict):
    """The evidence envelope (``sealrun.core.attestation.Evidence``, version 1)."""

    version: int = Field(ge=0, le=255)
    type: str = Field(min_length=1, max_length=32)
    payload: str = Field(min_length=1, max_length=MAX_EVIDENCE_CHARS, description="base64")
    collateral: str | None = Field(default=None, max_length=MAX_EVIDENCE_CHARS, description="base64")


class ReleaseIn(_Strict):
    """What an enclave presents to obtain its sealed secrets bundle."""

    nonce: str = Field(pattern=HEX32_PATTERN)
    worker: Address
    authorization: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="scheduler's EIP-191 signature")
    evidence: EvidenceIn
    ephemeral_recipient: str = Field(min_length=1, max_length=100, description="age1…")


class SessionNonceOut(BaseModel):
    """A single-use nonce for opening an attested session, and its expiry (UNIX seconds)."""

    nonce: str
    expires_at: int


class SessionIn(_Strict):
    """What a session enclave presents once per boot (isolation mode ``session``, decision 0080)."""

    nonce: str = Field(pattern=HEX32_PATTERN)
    worker: Address
    signer: Address = Field(description="the session key's address, bound in the report data")
    requires_strict: bool = Field(description="the measured app requires strict isolation (bound too)")
    evidence: EvidenceIn


class SessionOut(BaseModel):
    """An open attested session: its id and when it expires (UNIX seconds)."""

    session: str
    measurement: str
    expires_at: int


class SessionReleaseIn(_Strict):
    """One task's release over an open session, signed by the session key."""

    session: str = Field(pattern=r"^0x[0-9a-fA-F]{32}$")
    worker: Address
    authorization: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="scheduler's EIP-191 signature")
    ephemeral_recipient: str = Field(min_length=1, max_length=100, description="age1…")
    sequence: int = Field(ge=1, le=2**63 - 1, description="grows with each request of the session")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="the session key's EIP-191 signature")


class SignedReleaseOut(BaseModel):
    """The SMS's signed release record (``sealrun.core.receipts.release``)."""

    record: str = Field(max_length=8192)
    signature: str = Field(pattern=r"^0x[0-9a-f]{130}$")
    signer: Address


class ReleaseOut(BaseModel):
    """The secrets bundle sealed to the ephemeral key (age, base64) and the enclave challenge,
    the task's deal and index, and the SMS's signed release record (for the task receipt)."""

    task_id: str
    enclave_challenge: str
    sealed_bundle: str
    deal_id: str | None = None
    task_index: int | None = None
    release: SignedReleaseOut | None = None


class AuditRecordOut(BaseModel):
    """One hash-chained audit record (see docs/sms.md)."""

    seq: int
    at: int
    event: str
    code: str
    detail: str
    task_id: str | None
    dataset: str | None
    app: str | None
    requester: str | None
    workerpool: str | None
    worker: str | None
    tee: str | None
    measurement: str | None
    prev_hash: str
    entry_hash: str
    policy: str | None = Field(default=None, description="the owner's release policy digest it applied")


class AuditLinkOut(BaseModel):
    """One link of the audit chain, without its content (public: a receipt's verifier checks
    that the SMS's log holds the entry its signed release record names)."""

    seq: int
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    """A page of audit records, oldest first; ask again with ``after=<last seq>``."""

    records: list[AuditRecordOut]


class HealthOut(BaseModel):
    """Liveness and the deployment the SMS serves."""

    status: str
    mode: str
    chain_id: int
    hub: str
    simulated_evidence: bool
    release_signer: str | None = None
