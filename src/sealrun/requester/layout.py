"""Where a requester's files live in a project folder (next to ``sealrun.toml``).

- ``tee/inputs`` (private inputs in clear), ``tee/encryptedOutputs`` (downloads),
  ``tee/outputs`` (opened results): the seed's layout (``sealrun tee init``);
- ``keys/result.key``: the requester's result identity (age, 0600), made on first use; its
  recipient is registered with the SMS so enclaves seal results to it;
- ``.sealrun/datasets/``: sealed inputs and their dataset keys (0600), kept by their owner.
"""

from __future__ import annotations

from pathlib import Path

from sealrun.adapters.sealedfiles import open_path, read_identity, write_identity
from sealrun.core.sealing import Identity

__all__ = [
    "DATASETS",
    "KEYS_DIR",
    "RESULT_KEY",
    "TEE_FOLDERS",
    "open_result",
    "outputs_folder",
    "result_identity",
    "sealed_folder",
]

KEYS_DIR = Path("keys")
RESULT_KEY = KEYS_DIR / "result.key"
DATASETS = Path(".sealrun") / "datasets"
TEE_FOLDERS = ("tee/inputs", "tee/encryptedOutputs", "tee/outputs")


def result_identity(project_root: Path, *, create: bool) -> tuple[Path, Identity]:
    """The requester's result identity (``keys/result.key``), created if ``create``.

    Raises:
        ConfigError: ``KEY_FILE_NOT_FOUND`` when missing and not ``create``.
    """
    path = project_root / RESULT_KEY
    if not path.exists() and create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_identity(path, Identity.generate())
    return path, read_identity(path)


def sealed_folder(project_root: Path) -> Path:
    """Where downloads go: ``tee/encryptedOutputs`` in a ``tee init`` project, else the cwd."""
    tee = project_root / "tee" / "encryptedOutputs"
    return tee if tee.is_dir() else Path.cwd()


def outputs_folder(project_root: Path) -> Path:
    """Where opened results go: ``tee/outputs`` of the project."""
    return project_root / "tee" / "outputs"


def open_result(sealed: Path, out_dir: Path, identity: Identity) -> tuple[Path, list[Path]]:
    """Open a sealed result (an archive of the app's ``IEXEC_OUT``) into ``out_dir/<name>``.

    Returns:
        The folder written and the files in it.

    Raises:
        SealError: wrong key, tampered, truncated (nothing is left on disk).
    """
    name = sealed.name.removesuffix(".age").removesuffix(".result")
    target = out_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    opened = open_path(sealed, target, [identity], overwrite=True)
    files = (
        sorted(p for p in opened.path.rglob("*") if p.is_file()) if opened.path.is_dir() else [opened.path]
    )
    return opened.path, files
