"""A dataset owner's release policy at the SMS (decision 0090), on SQLite and PostgreSQL.

The owner signs her policy document; the SMS stores it sealed and applies it at every
release of her dataset's key. Each rule refuses with its own code: the attested enclave gets
a failure bundle (``OWNER_POLICY_REFUSED``, so the task ends with an attested failure and the
requester's refund) and the audit entry records the refusal and the policy's digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from sealrun.core.attestation import SimulatorKey
from sealrun.core.releases import parse_owner_policy
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.errors import SecretError
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import PG_URL, World, make_settings

OTHER_POOL = "0x" + "ee" * 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def owned_sms(
    request: pytest.FixtureRequest, tmp_path: Path, simulator: SimulatorKey, build: Any
) -> SmsUseCases:
    """The SMS on each database; its deployment policy accepts SWHardeningNeeded platforms too,
    so that the owner's stricter minimum is what refuses them."""
    extra: dict[str, Any] = {"accepted_tcb_statuses": ["UpToDate", "SWHardeningNeeded"]}
    if request.param == "postgres":
        extra |= {"database_url": PG_URL, "database_schema": request.getfixturevalue("pg_schema")}
    return build(make_settings(tmp_path, simulator, **extra))  # type: ignore[no-any-return]


def _set(sms: SmsUseCases, world: World, policy: dict[str, Any], signer: LocalAccount | None = None) -> str:
    path = f"/v1/datasets/{world.dataset}/policy"
    call = world.signed(signer or world.dataset_owner, "PUT", path, policy)
    return sms.put_dataset_policy(call, world.dataset).digest


def _release(sms: SmsUseCases, world: World, **evidence: Any) -> SecretsBundle:
    identity = Identity.generate()
    enclave = world.challenge(sms)
    released = sms.release(world.release_request(sms, enclave, identity, **evidence))
    return SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))


def _code(call: Any) -> str:
    with pytest.raises(SecretError) as caught:
        call()
    return caught.value.code


def test_the_owner_sets_reads_and_replaces_her_policy(owned_sms: SmsUseCases, world: World) -> None:
    sms = owned_sms
    assert _code(lambda: sms.dataset_policy(world.dataset)) == "SECRET_NOT_FOUND"
    document = {"version": 1, "tee_types": ["tdx-dcap", "sgx-dcap"], "workerpools": [world.pool.upper()[2:]]}
    assert _code(lambda: _set(sms, world, document)) == "SECRET_POLICY_INVALID"  # no 0x
    document["workerpools"] = [world.pool]
    digest = _set(sms, world, document)
    stored = sms.dataset_policy(world.dataset)
    assert stored.digest == digest == parse_owner_policy(document).digest
    assert json.loads(stored.document)["tee_types"] == ["sgx-dcap", "tdx-dcap"]  # canonical: sorted
    assert stored.owner == world.dataset_owner.address
    replaced = _set(sms, world, {"version": 1, "isolation": "strict"})
    assert sms.dataset_policy(world.dataset).digest == replaced != digest


def test_only_the_datasets_owner_sets_a_valid_policy(owned_sms: SmsUseCases, world: World) -> None:
    sms = owned_sms
    valid = {"version": 1, "min_tcb": "UpToDate"}
    assert _code(lambda: _set(sms, world, valid, world.stranger)) == "SECRET_NOT_OWNER"
    assert _code(lambda: _set(sms, world, {"version": 1, "min_tcb": "OutOfDate"})) == "SECRET_POLICY_INVALID"
    path = "/v1/datasets/0x" + "12" * 20 + "/policy"
    call = world.signed(world.dataset_owner, "PUT", path, valid)
    assert _code(lambda: sms.put_dataset_policy(call, "0x" + "12" * 20)) == "SECRET_ASSET_UNKNOWN"
    assert _code(lambda: sms.dataset_policy(world.dataset)) == "SECRET_NOT_FOUND"


@pytest.mark.parametrize(
    ("policy", "evidence", "code"),
    [
        ({"tee_types": ["sgx-dcap", "tdx-dcap"]}, {}, "RELEASE_POLICY_TEE_TYPE"),
        ({"min_tcb": "UpToDate"}, {"tcb_status": "SWHardeningNeeded"}, "RELEASE_POLICY_TCB_STATUS"),
        # Simulated evidence has no dated collateral: it cannot show the age the owner asks.
        ({"max_collateral_age": 7 * 86_400}, {}, "RELEASE_POLICY_COLLATERAL_AGE"),
        ({"workerpools": [OTHER_POOL]}, {}, "RELEASE_POLICY_WORKERPOOL"),
    ],
)
def test_each_rule_refuses_with_its_code_and_the_audit_records_the_policy(
    owned_sms: SmsUseCases, world: World, policy: dict[str, Any], evidence: dict[str, Any], code: str
) -> None:
    sms = owned_sms
    world.push_secrets(sms)
    digest = _set(sms, world, {"version": 1, **policy})
    bundle = _release(sms, world, **evidence)
    assert bundle.failure is not None
    assert bundle.failure.code is FailureCode.OWNER_POLICY_REFUSED
    assert bundle.dataset is None
    assert bundle.requester_secrets == {}
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code, head.policy) == ("failure", code, digest)
    assert (head.dataset or "").lower() == world.dataset.lower()
    assert verify_audit_chain(sms.repository.audit_records()) == head.entry_hash


def test_a_release_that_meets_every_rule_gets_the_key_and_names_the_policy(
    owned_sms: SmsUseCases, world: World
) -> None:
    sms = owned_sms
    world.push_secrets(sms)
    # No policy: the audit entry names none (and hashes as before decision 0090).
    assert _release(sms, world).failure is None
    head = sms.audit_head()
    assert head is not None
    assert head.policy is None
    policy = {
        "version": 1, "tee_types": ["simulated"], "min_tcb": "SWHardeningNeeded", "isolation": "strict",
        "workerpools": [world.pool],
    }  # fmt: skip
    digest = _set(sms, world, policy)
    bundle = _release(sms, world, tcb_status="SWHardeningNeeded")
    assert bundle.failure is None
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code, head.policy) == ("release", "RELEASED", digest)
    assert verify_audit_chain(sms.repository.audit_records()) == head.entry_hash
    # The owner tightens her policy between two tasks: the next release is refused.
    _set(sms, world, {**policy, "min_tcb": "UpToDate"})
    refused = _release(sms, world, tcb_status="SWHardeningNeeded")
    assert refused.failure is not None
    assert refused.failure.code is FailureCode.OWNER_POLICY_REFUSED


def test_a_tampered_stored_policy_does_not_open(owned_sms: SmsUseCases, world: World) -> None:
    """The policy row is sealed under the master key: a database writer cannot loosen it."""
    from sqlalchemy import update

    from sealrun.services.sms.models import DatasetPolicy

    sms = owned_sms
    _set(sms, world, {"version": 1, "workerpools": [OTHER_POOL]})
    with sms.repository._sessions.begin() as session:  # the database, written behind the SMS's back
        row = session.get(DatasetPolicy, world.dataset.lower())
        assert row is not None
        forged = row.sealed[:-1] + bytes([row.sealed[-1] ^ 1])
        session.execute(update(DatasetPolicy).values(sealed=forged))
    assert _code(lambda: sms.dataset_policy(world.dataset)) == "SECRET_AT_REST_CORRUPT"


def test_master_key_rotation_reseals_the_policy(
    tmp_path: Path, simulator: SimulatorKey, world: World, build: Any
) -> None:
    sms = build(make_settings(tmp_path, simulator))
    digest = _set(sms, world, {"version": 1, "workerpools": [OTHER_POOL]})
    rotated = make_settings(
        tmp_path, simulator, master_key="0x" + "43" * 32, master_key_id="k2",
        previous_master_keys={"k1": "0x" + "42" * 32},
    )  # fmt: skip
    assert build(rotated).rotate_master_key() == 1  # the policy is the only sealed row
    only_new = build(make_settings(tmp_path, simulator, master_key="0x" + "43" * 32, master_key_id="k2"))
    assert only_new.dataset_policy(world.dataset).digest == digest
    stale = build(make_settings(tmp_path, simulator))
    assert _code(lambda: stale.dataset_policy(world.dataset)) == "SECRET_AT_REST_KEY_UNKNOWN"
