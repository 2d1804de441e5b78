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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.bundlefiles import AppBundle
from sealrun.core.bundles import MANIFEST_NAME

__all__ = ["Workspace", "copy_bundle"]

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
        # ``out/`` may already exist, emptied by scrub(): the isolated launcher mounts a
        # size-capped tmpfs there before the run (a mount point cannot be removed).
        self.outputs.mkdir(mode=0o700, exist_ok=True)
        self.outputs.chmod(0o700)
        if self.sandbox_uid is not None:
            os.chown(self.outputs, self.sandbox_uid, self.sandbox_gid or 0)

    def _share(self, path: Path, mode: int) -> None:
        # Readable by the sandbox's group only: the plaintext is nobody else's business.
        if self.sandbox_gid is not None:
            os.chown(path, 0, self.sandbox_gid)
        path.chmod(mode)

    def copy_bundle(self, source: AppBundle) -> None:
        """Copy the bundle's measured files (and manifest) into ``bundle/``, shared read-only."""
        copy_bundle(source, self.bundle, self._share)

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


def copy_bundle(source: AppBundle, target: Path, share: Callable[[Path, int], None]) -> None:
    """Copy ``source``'s measured files (and manifest) into the folder ``target``.

    ``share(path, mode)`` gives each new folder (0o750), executable (0o750) and file (0o640)
    its owner and mode; pass one that widens them to make the copy readable by other users.
    """
    links = [f for f in source.files if f.link is not None]
    executables = {f.path for f in source.files if f.executable}
    for name in [MANIFEST_NAME, *(f.path for f in source.files if f.link is None)]:
        destination = _make_parents(target, name, share)
        shutil.copyfile(source.root / name, destination, follow_symlinks=False)
        share(destination, 0o750 if name in executables else 0o640)
    # Links last, once their targets exist; a link has no mode of its own to share. The copy
    # is measured again (load_bundle) before it runs, so a link is kept only if it still
    # resolves inside the copy.
    for link in links:
        assert link.link is not None  # the filter above
        os.symlink(link.link, _make_parents(target, link.path, share))


def _make_parents(target: Path, name: str, share: Callable[[Path, int], None]) -> Path:
    destination = target / name
    for parent in reversed(destination.relative_to(target).parents[:-1]):
        folder = target / parent
        if not folder.exists():
            folder.mkdir()
            share(folder, 0o750)
    return destination
