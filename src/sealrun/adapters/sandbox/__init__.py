"""The app sandbox: bubblewrap, no network, no host files, bounded resources."""

from sealrun.adapters.sandbox.bubblewrap import BubblewrapSandbox
from sealrun.adapters.sandbox.limits import SandboxLimits, SandboxOutcome, SandboxRunner, SandboxSpec

__all__ = ["BubblewrapSandbox", "SandboxLimits", "SandboxOutcome", "SandboxRunner", "SandboxSpec"]
