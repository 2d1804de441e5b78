"""Run one isolated launch whose secrets source probes what the task side can reach.

``python -m tests.enclave.isolation_probe BUNDLE WORK KEY SECRETS PROBE_OUT`` runs
:func:`~sealrun.enclave.isolation.run_isolated` (as the enclave process does) with a source
that, on the task side and before handing over the bundle, tries to read what a task must
never read and writes what happened to ``PROBE_OUT`` (JSON). Used by ``test_isolation.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from sealrun.adapters.tee import Quoter
from sealrun.core.tasks import SecretsBundle
from sealrun.enclave.isolation import IsolatedLaunch, run_isolated
from sealrun.enclave.runtime import RuntimeSettings
from sealrun.enclave.secrets import UnsafeLocalSecretsFile


def _attempt(action: Any) -> str:
    try:
        action()
    except OSError as error:
        return type(error).__name__
    return "ALLOWED"


class ProbingSource:
    """Records what the task side can do, then returns the preloaded bundle."""

    def __init__(self, bundle: SecretsBundle, key_file: Path, out: Path, bundle_dir: Path) -> None:
        self.bundle, self.key_file, self.out, self.bundle_dir = bundle, key_file, out, bundle_dir

    def fetch(self, quoter: Quoter) -> SecretsBundle:
        parent = os.getppid()
        evidence = quoter.evidence(bytes(range(64)))
        facts = {
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "read_key": _attempt(lambda: self.key_file.read_bytes()),
            "read_parent_environ": _attempt(lambda: Path(f"/proc/{parent}/environ").read_bytes()),
            "read_parent_mem": _attempt(lambda: Path(f"/proc/{parent}/mem").open("rb").close()),
            "write_bundle": _attempt(lambda: (self.bundle_dir / "sealrun-app.toml").write_text("x")),
            "add_to_bundle": _attempt(lambda: (self.bundle_dir / "planted.py").write_text("x")),
            "read_shadow": _attempt(lambda: Path("/etc/shadow").read_bytes()),
            # Python itself stays reachable, wherever it lives: lazy imports run after the fork.
            "list_stdlib": _attempt(lambda: os.listdir(Path(sys.base_prefix) / "lib")),
            "list_site_packages": _attempt(
                lambda: [os.listdir(p) for p in sys.path if p.endswith("site-packages")]
            ),
            "environ": dict(os.environ),
            "quoter_measurement": quoter.measurement.hex(),
            "evidence": json.loads(evidence.to_json()),
        }
        self.out.write_text(json.dumps(facts))
        return self.bundle


def main() -> int:
    bundle_dir, work, key_file, secrets_file, probe_out = (Path(a) for a in sys.argv[1:6])
    bundle = UnsafeLocalSecretsFile(secrets_file).loaded().bundle
    source = ProbingSource(bundle, key_file, probe_out, work / "bundle")
    launch = IsolatedLaunch(
        bundle_dir=bundle_dir,
        work_dir=work,
        simulator_key_file=key_file,
        secrets=source,
        settings=RuntimeSettings(),
    )
    return run_isolated(launch)


if __name__ == "__main__":
    sys.exit(main())
