"""A deal matched under a dataset grant: the SMS re-checks the grant at every release.

Uses are counted on chain at match; a grant revoked (or expired, or gone) after the match
stops every later release at once: the attested enclave gets a failure bundle
(``GRANT_INVALID``, so the task ends with an attested failure and the requester's refund),
and the audit log records the refusal under its own code.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account

from sealrun.core.orders.grants import Grant, grant_id
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import T0, World

GRANT = grant_id(1)


def _grant(world: World, **changes: object) -> Grant:
    grant = Grant(
        grant_id=GRANT, dataset=world.dataset, owner=world.dataset_owner.address, app=world.app,
        requester=world.requester.address, workerpool=world.pool, price=3, max_uses=2,
        expiry=T0 + 86_400, bulk=False, revoked=False, uses=1,
    )  # fmt: skip
    return replace(grant, **changes)  # type: ignore[arg-type]


def _released(sms: SmsUseCases, world: World) -> SecretsBundle:
    identity = Identity.generate()
    enclave = world.challenge(sms)
    released = sms.release(world.release_request(sms, enclave, identity))
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert Account.from_key(bundle.enclave_key).address == enclave
    return bundle


def test_a_live_grant_releases_the_dataset_key(sms: SmsUseCases, world: World) -> None:
    world.chain.add_grant(_grant(world))
    world.chain.set_deal(world.deal_id, grant_id=GRANT)
    world.push_secrets(sms)
    bundle = _released(sms, world)
    assert bundle.failure is None
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"revoked": True}, "RELEASE_GRANT_REVOKED"),
        ({"expiry": T0}, "RELEASE_GRANT_EXPIRED"),
        (None, "RELEASE_GRANT_UNKNOWN"),
    ],
)
def test_a_revoked_expired_or_missing_grant_stops_the_release(
    sms: SmsUseCases, world: World, changes: dict[str, object] | None, code: str
) -> None:
    world.chain.set_deal(world.deal_id, grant_id=GRANT)
    if changes is not None:
        world.chain.add_grant(_grant(world, **changes))
    world.push_secrets(sms)
    bundle = _released(sms, world)
    assert bundle.failure is not None
    assert bundle.failure.code is FailureCode.GRANT_INVALID
    assert bundle.dataset is None
    assert bundle.requester_secrets == {}
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("failure", code)
    assert (head.dataset or "").lower() == world.dataset.lower()
    assert verify_audit_chain(sms.repository.audit_records()) == head.entry_hash


def test_revoking_between_two_tasks_stops_the_second(sms: SmsUseCases, world: World) -> None:
    world.chain.add_grant(_grant(world))
    world.chain.set_deal(world.deal_id, grant_id=GRANT)
    world.push_secrets(sms)
    assert _released(sms, world).failure is None
    world.chain.add_grant(_grant(world, revoked=True))
    second = _released(sms, world)
    assert second.failure is not None
    assert second.failure.code is FailureCode.GRANT_INVALID
    records = sms.repository.audit_records()
    assert [(r.event, r.code) for r in records][-2:] == [
        ("release", "RELEASED"),
        ("failure", "RELEASE_GRANT_REVOKED"),
    ]
