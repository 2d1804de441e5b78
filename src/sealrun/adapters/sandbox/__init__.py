"""The app sandbox: bubblewrap, no network, no host files, bounded resources.

Limits and what enforces them: see :mod:`sealrun.adapters.sandbox.bubblewrap` (the sandbox),
:mod:`~sealrun.adapters.sandbox.cgroups` (total memory and tasks) and
:mod:`~sealrun.adapters.sandbox.mounts` (the size-capped output folder).
"""

from sealrun.adapters.sandbox.bubblewrap import BubblewrapSandbox
from sealrun.adapters.sandbox.cgroups import TaskCgroup, cgroups_available
from sealrun.adapters.sandbox.limits import SandboxLimits, SandboxOutcome, SandboxRunner, SandboxSpec
from sealrun.adapters.sandbox.mounts import enter_private_mount_namespace, mount_tmpfs, output_full, unmount

__all__ = [
    "BubblewrapSandbox",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxRunner",
    "SandboxSpec",
    "TaskCgroup",
    "cgroups_available",
    "enter_private_mount_namespace",
    "mount_tmpfs",
    "output_full",
    "unmount",
]
