"""The enclave's work folder: private folders for one task, reachable only by the sandbox user.

::

    <work>/            0710, group = the sandbox's group (it may traverse, not list)
      bundle/          the measured copy of the app bundle (read-only in the sandbox)
      in/              IEXEC_IN: the opened dataset and input files
      out/             IEXEC_OUT: owned by the sandbox user
      fetch/           downloaded ciphertext (ours only)
      logs/            stdout/stderr of the app, the enclave's own log (ours only)
      result.tar.age   the sealed output archive            (kept)
      logs.tar.age     the sealed log archive               (kept)
      report.json      the run report                       (kept)

Everything but the sealed files and the report is plaintext and is deleted when the run
ends, whatever happened (:meth:`Workspace.scrub`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.bundlefiles import AppBundle
from sealrun.core.bundles import MANIFEST_NAME

__all__ = ["Workspace"]

_PLAINTEXT = ("bundle", "in", "out", "fetch", "logs")


@dataclass(frozen=True)
class Workspace:
    """The folders of one run (see the module docstring)."""

    root: Path
    sandbox_uid: int | None
    sandbox_gid: int | None

    @property
    def bundle(self) -> Path:
        return self.root / "bundle"

    @property
    def inputs(self) -> Path:
        return self.root / "in"

    @property
    def outputs(self) -> Path:
        return self.root / "out"

    @property
    def fetch(self) -> Path:
        return self.root / "fetch"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def sealed_result(self) -> Path:
        return self.root / "result.tar.age"

    @property
    def sealed_logs(self) -> Path:
        return self.root / "logs.tar.age"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    def create(self) -> None:
        """Create the folders with their modes and owners, removing leftovers of a past run."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.scrub()
        for stale in (self.sealed_result, self.sealed_logs, self.report):
            stale.unlink(missing_ok=True)
        self._share(self.root, 0o710)
        for folder in (self.fetch, self.logs):
            folder.mkdir(mode=0o700)
        for folder in (self.bundle, self.inputs):
            folder.mkdir()
            self._share(folder, 0o750)
        self.outputs.mkdir(mode=0o700)
        if self.sandbox_uid is not None:
            os.chown(self.outputs, self.sandbox_uid, self.sandbox_gid or 0)

    def _share(self, path: Path, mode: int) -> None:
        # Readable by the sandbox's group only: the plaintext is nobody else's business.
        if self.sandbox_gid is not None:
            os.chown(path, 0, self.sandbox_gid)
        path.chmod(mode)

    def copy_bundle(self, source: AppBundle) -> None:
        """Copy the bundle's measured files (and manifest) into ``bundle/``, shared read-only."""
        names = [MANIFEST_NAME, *(f.path for f in source.files)]
        for name in names:
            target = self.bundle / name
            for parent in reversed(target.relative_to(self.bundle).parents[:-1]):
                folder = self.bundle / parent
                if not folder.exists():
                    folder.mkdir()
                    self._share(folder, 0o750)
            shutil.copyfile(source.root / name, target, follow_symlinks=False)
            executable = name != MANIFEST_NAME and any(f.path == name and f.executable for f in source.files)
            self._share(target, 0o750 if executable else 0o640)

    def share_inputs(self) -> None:
        """Give the sandbox read access to everything pre-compute wrote in ``in/``."""
        for folder, dirs, files in os.walk(self.inputs):
            for name in dirs:
                self._share(Path(folder) / name, 0o750)
            for name in files:
                if not (Path(folder) / name).is_symlink():  # links (inside only) need no mode
                    self._share(Path(folder) / name, 0o640)

    def scrub(self) -> None:
        """Delete every plaintext folder."""
        for name in _PLAINTEXT:
            shutil.rmtree(self.root / name, ignore_errors=True)
