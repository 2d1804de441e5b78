"""The enclave runtime: the trusted code that runs one task (keep it small).

Pre-compute (fetch, verify, open the inputs) → the app in the bubblewrap sandbox with
iExec's app interface → post-compute (deterministic archive, digest, seal to the
beneficiary, sign) or a signed failure receipt. ``python -m sealrun.enclave run`` is the
enclave process a :class:`~sealrun.adapters.tee.TeeBackend` starts; ``docs/enclave.md``
describes it all.
"""

from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.runtime import EnclaveRuntime, RuntimeSettings
from sealrun.enclave.secrets import SecretsSource, UnsafeLocalSecretsFile

__all__ = ["EnclaveRuntime", "RuntimeSettings", "SecretsSource", "TaskFailedError", "UnsafeLocalSecretsFile"]
