"""The one exception the enclave's phases raise when a task fails for a stated reason.

A :class:`TaskFailedError` carries a :class:`~sealrun.core.tasks.FailureCode`; the runtime turns
it into a signed failure receipt. Its message goes into the *sealed* enclave log only (it
may name inputs), never into the run report.
"""

from __future__ import annotations

from sealrun.core.tasks import FailureCode
from sealrun.errors import EnclaveError

__all__ = ["TaskFailedError"]


class TaskFailedError(EnclaveError):
    """A task failed with a stable failure code.

    Args:
        failure: the on-chain failure code.
        message: what happened, for the beneficiary's sealed log.
    """

    def __init__(self, failure: FailureCode, message: str) -> None:
        super().__init__(message, code=failure.name)
        self.failure = failure
