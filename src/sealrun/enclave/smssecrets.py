"""The SMS-backed :class:`~sealrun.enclave.secrets.SecretsSource`: attest, then receive.

1. ask the SMS for a single-use nonce for the task;
2. make a fresh ephemeral age X25519 identity (it never leaves the enclave);
3. have the quoter produce evidence over ``report_data_for(nonce, public key, task id)``;
4. present the evidence with the worker's scheduler authorization; the SMS answers with the
   secrets bundle sealed to the ephemeral key;
5. open and validate the bundle: it must name this task and this worker, and its enclave key
   must be the task's enclave challenge the SMS reports.

The bundle may be a *failure bundle* (``bundle.failure`` set: the order is unusable or the
task's releases hit their cap): the same checks apply, it holds the enclave key and no
secret, and the runtime signs a failure receipt with its code without running the app.

Error codes: the SMS's own (``RELEASE_*``, ``ATTEST_*``, ...) as raised by the client, and
``BUNDLE_MISMATCH`` (:class:`~sealrun.errors.SecretError`) when the bundle is not the one asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sealrun.adapters.http.sms import Released, SmsClient
from sealrun.adapters.tee import Quoter
from sealrun.api.ids import task_id_hex
from sealrun.core.attestation import report_data_for
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import address_of
from sealrun.core.tasks.secretsbundle import SecretsBundle
from sealrun.enclave.secrets import ReleaseInfo
from sealrun.errors import SecretsBundleError

__all__ = ["SmsSecrets", "open_released"]


@dataclass(frozen=True)
class SmsSecrets:
    """Obtains the task's secrets bundle from the SMS by remote attestation.

    Args:
        client: the SMS client.
        task_id: the task this enclave runs (32 bytes).
        worker: the worker address the scheduler authorized.
        authorization: the workerpool owner's signature over the authorization digest.
        random: randomness for the ephemeral key (injected for tests).
    """

    client: SmsClient
    task_id: bytes
    worker: str
    authorization: bytes = field(repr=False)
    random: Callable[[int], bytes] = field(default=os.urandom, repr=False)
    # What the last release told us (deal, index, the SMS's signed record), for the receipt.
    _released: list[ReleaseInfo] = field(default_factory=list, repr=False, compare=False)

    def release_context(self) -> ReleaseInfo | None:
        """What the last :meth:`fetch` learnt from the SMS, or ``None`` before it."""
        return self._released[-1] if self._released else None

    def fetch(self, quoter: Quoter) -> SecretsBundle:
        """Attest to the SMS and return the opened, checked bundle.

        Raises:
            SecretError, AttestationError: the SMS refused (its code), or ``BUNDLE_MISMATCH``.
            ServiceError: the SMS could not be reached.
        """
        nonce = self.client.attestation_nonce(self.task_id)
        identity = Identity.generate(rng=self.random)
        evidence = quoter.evidence(report_data_for(nonce, identity.public_bytes, self.task_id))
        released = self.client.release(
            self.task_id,
            nonce=nonce,
            worker=self.worker,
            authorization=self.authorization,
            evidence=evidence,
            ephemeral_recipient=str(identity.recipient),
        )
        bundle, info = open_released(released, identity, task_id=self.task_id, worker=self.worker)
        self._released.append(info)
        return bundle


def open_released(
    released: Released, identity: Identity, *, task_id: bytes, worker: str
) -> tuple[SecretsBundle, ReleaseInfo]:
    """Open and check a released bundle (either isolation mode); return it and the release facts.

    Raises:
        SecretsBundleError: ``BUNDLE_MISMATCH`` (another task or worker, or an enclave key that
            is not the task's challenge), or the bundle's own codes.
    """
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    if bundle.task_id != task_id_hex(task_id) or bundle.worker.lower() != worker.lower():
        raise SecretsBundleError("the SMS sent a bundle for another task or worker", code="BUNDLE_MISMATCH")
    if address_of(bundle.enclave_key).lower() != released.enclave_challenge.lower():
        raise SecretsBundleError(
            "the bundle's enclave key is not the task's challenge", code="BUNDLE_MISMATCH"
        )
    record = None if released.release is None else released.release.model_dump()
    return bundle, ReleaseInfo(released.deal_id, released.task_index, record)
