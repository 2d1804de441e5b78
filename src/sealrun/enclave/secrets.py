"""Where the enclave gets its secrets bundle: a seam between the runtime and the SMS.

:class:`SecretsSource` is the interface. The SMS implementation (added with the SMS) asks
for a nonce, makes an ephemeral key, has the :class:`~sealrun.adapters.tee.Quoter` produce
evidence over ``report_data_for(nonce, pubkey, task_id)`` and opens the bundle the SMS seals
to that key. :class:`UnsafeLocalSecretsFile` reads a plaintext bundle from a local file: the
developer loop (``sealrun app test``) and tests, where there is no SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from sealrun.adapters.tee import Quoter
from sealrun.core.attestation import Evidence
from sealrun.core.jsontypes import JsonObject
from sealrun.core.tasks.secretsbundle import MAX_BUNDLE_BYTES, SecretsBundle
from sealrun.errors import SecretsBundleError

__all__ = ["LoadedSecrets", "ReleaseContext", "ReleaseInfo", "SecretsSource", "UnsafeLocalSecretsFile"]


class SecretsSource(Protocol):
    """Gives an enclave the secrets bundle of its task."""

    def fetch(self, quoter: Quoter) -> SecretsBundle:
        """Return the task's secrets bundle, attesting with ``quoter`` if the source needs it.

        Raises:
            SecretError: the bundle could not be obtained or is invalid.
            AttestationError: the source refused the enclave's evidence.
        """
        ...


@dataclass(frozen=True)
class ReleaseInfo:
    """What the SMS told the enclave at release, for the task receipt.

    Attributes:
        deal_id, task_index: the task's deal and index, as the SMS read them on chain.
        signed_record: the SMS's signed release record (``{"record", "signature", "signer"}``),
            or ``None`` when the SMS signs none.
        policy: the name of the attestation policy the SMS applied, if it said.
        evidence: in ``session`` mode, the session's evidence (the task made none of its own).
    """

    deal_id: str | None
    task_index: int | None
    signed_record: JsonObject | None
    policy: str | None = None
    evidence: Evidence | None = None


@runtime_checkable
class ReleaseContext(Protocol):
    """A source that learnt about the release (the SMS), for the receipt."""

    def release_context(self) -> ReleaseInfo | None:
        """What the last :meth:`SecretsSource.fetch` learnt, or ``None`` before it."""
        ...


@dataclass(frozen=True)
class UnsafeLocalSecretsFile:
    """A plaintext secrets bundle in a local file: UNSAFE, no attestation, no sealing.

    Anyone who can read the file has every secret of the task; the enclave runtime accepts
    it only for the developer loop and tests, never in a deployment.
    """

    path: Path

    def fetch(self, quoter: Quoter) -> SecretsBundle:  # noqa: ARG002 - a local file needs no evidence
        """Read and validate the bundle.

        Raises:
            SecretsBundleError: ``BUNDLE_UNREADABLE``, ``BUNDLE_INVALID``, ``BUNDLE_VERSION_UNSUPPORTED``.
        """
        return self._read()

    def _read(self) -> SecretsBundle:
        try:
            with Path(self.path).open("rb") as handle:
                raw = handle.read(MAX_BUNDLE_BYTES + 1)
        except OSError as error:
            raise SecretsBundleError(
                f"cannot read the secrets bundle: {error}", code="BUNDLE_UNREADABLE"
            ) from error
        return SecretsBundle.from_json(raw)

    def loaded(self) -> LoadedSecrets:
        """Read the bundle now (as the caller), for a task side that may not read the file.

        Raises:
            SecretError: as :meth:`fetch`.
        """
        return LoadedSecrets(self._read())


@dataclass(frozen=True)
class LoadedSecrets:
    """A secrets bundle read already (by the privileged side of an isolated launch)."""

    bundle: SecretsBundle = field(repr=False)

    def fetch(self, quoter: Quoter) -> SecretsBundle:  # noqa: ARG002 - no evidence needed
        """Return the bundle."""
        return self.bundle
