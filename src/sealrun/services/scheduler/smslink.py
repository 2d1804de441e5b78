"""The scheduler's calls to the SMS: a task's enclave challenge, asked as the pool owner.

A thin adapter of :class:`sealrun.adapters.http.sms.SmsClient` to the scheduler's
:class:`~sealrun.services.scheduler.usecases.ChallengeSource`: the request is signed by the
workerpool owner's key; the SMS creates the per-task key once and returns its address.
"""

from __future__ import annotations

from sealrun.adapters.http.sms import SmsClient

__all__ = ["SmsChallenges"]


class SmsChallenges:
    """Gets enclave challenges from one SMS with the pool owner's key.

    Args:
        client: the SMS client (its domain is the deployment's).
        key: the workerpool owner's private key.
    """

    def __init__(self, client: SmsClient, *, key: bytes) -> None:
        self._client = client
        self._key = key

    def enclave_challenge(self, task: bytes) -> str:
        """The address of ``task``'s enclave challenge key (created by the SMS on first ask)."""
        return self._client.enclave_challenge(self._key, task)
