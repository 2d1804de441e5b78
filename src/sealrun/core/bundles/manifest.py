"""The ``sealrun-app.toml`` manifest: what an app bundle is and what it may use.

::

    [app]
    name = "hello"                         # 1-64 chars: letters, digits, . _ -
    entrypoint = ["python3", "app.py"]     # argv; run with /app (the bundle) as working dir
    runtime = "python3"                    # one of RUNTIMES: native, node, python3

    [resources]                            # every field optional; defaults below
    memory_mb = 512                        # memory of the whole sandbox (docs/apps.md, Limits)
    processes = 64                         # processes/threads the app may run at once
    file_size_mb = 256                     # largest single file the app may write
    output_size_mb = 256                   # total size of IEXEC_OUT after the run
    wall_time_s = 3600                     # ceiling; the task's category time may lower it
    tmp_size_mb = 64                       # the private /tmp (a size-capped tmpfs)
    input_size_mb = 100                    # no default: the dataset and input files a task
                                           # may fetch in all; the worker caps it (1 GiB)

    [outputs]
    declared = ["result.txt"]              # paths under IEXEC_OUT the app promises to write

    [isolation]                            # optional
    require = "strict"                     # "any" (the default) or "strict": the SMS releases
                                           # this app's secrets only to an enclave attested for
                                           # the task itself (decision 0080)

Parsing is pure (it takes the TOML text). Every problem raises
:class:`~sealrun.errors.EnclaveError` with code ``MANIFEST_INVALID`` (a field is missing,
has the wrong type, is out of range, or is unknown) or ``MANIFEST_NOT_TOML``.
:meth:`AppManifest.canonical` is the byte form the fingerprint hashes. ``input_size_mb`` is
in it only when the manifest sets it, so the fingerprints of manifests written before the
field existed do not change; ``[isolation]`` likewise, only when it requires ``strict``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from sealrun.errors import AppBundleError, EnclaveError

__all__ = [
    "MANIFEST_NAME",
    "RUNTIMES",
    "AppManifest",
    "ManifestAppTable",
    "ManifestDocument",
    "ManifestOutputsTable",
    "Resources",
    "parse_manifest",
]

MANIFEST_NAME = "sealrun-app.toml"
# python3: the host's read-only Debian /usr with its python3; native: the same /usr, the
# entrypoint is a program inside the bundle (or any /usr binary).
RUNTIMES = ("native", "node", "python3")

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MIB = 1 << 20
# (field, default, minimum, maximum)
_LIMITS: tuple[tuple[str, int, int, int], ...] = (
    ("memory_mb", 512, 32, 1 << 20),
    ("processes", 64, 1, 4096),
    ("file_size_mb", 256, 1, 1 << 22),
    ("output_size_mb", 256, 1, 1 << 22),
    ("wall_time_s", 3600, 1, 7 * 24 * 3600),
    ("tmp_size_mb", 64, 1, 1 << 16),
)
# Optional limits without a default: (field, minimum, maximum). Absent means "the worker's
# default", and an absent field stays out of the canonical form.
_OPTIONAL_LIMITS: tuple[tuple[str, int, int], ...] = (("input_size_mb", 1, 1 << 22),)


def _invalid(message: str) -> EnclaveError:
    return AppBundleError(f"{MANIFEST_NAME}: {message}", code="MANIFEST_INVALID")


@dataclass(frozen=True)
class Resources:
    """The limits the sandbox enforces on an app (see the module docstring for units)."""

    memory_mb: int = 512
    processes: int = 64
    file_size_mb: int = 256
    output_size_mb: int = 256
    wall_time_s: int = 3600
    tmp_size_mb: int = 64
    input_size_mb: int | None = None

    @property
    def memory_bytes(self) -> int:
        """The memory limit in bytes."""
        return self.memory_mb * _MIB

    @property
    def file_size_bytes(self) -> int:
        """The single-file size limit in bytes."""
        return self.file_size_mb * _MIB

    @property
    def output_size_bytes(self) -> int:
        """The output folder size limit in bytes."""
        return self.output_size_mb * _MIB

    @property
    def tmp_size_bytes(self) -> int:
        """The private /tmp size in bytes."""
        return self.tmp_size_mb * _MIB

    @property
    def input_size_bytes(self) -> int | None:
        """The input budget the app asks for in bytes, or None (the worker's default)."""
        return None if self.input_size_mb is None else self.input_size_mb * _MIB


class ManifestAppTable(TypedDict):
    """The ``[app]`` table of :meth:`AppManifest.to_dict`."""

    name: str
    entrypoint: list[str]
    runtime: str


class ManifestOutputsTable(TypedDict):
    """The ``[outputs]`` table of :meth:`AppManifest.to_dict`."""

    declared: list[str]


class ManifestIsolationTable(TypedDict):
    """The ``[isolation]`` table of :meth:`AppManifest.to_dict` (only when it requires strict)."""

    require: str


class ManifestDocument(TypedDict):
    """A manifest as plain data (:meth:`AppManifest.to_dict`): the TOML document's tables."""

    app: ManifestAppTable
    resources: dict[str, int]
    outputs: ManifestOutputsTable
    isolation: NotRequired[ManifestIsolationTable]


@dataclass(frozen=True)
class AppManifest:
    """A validated app manifest."""

    name: str
    entrypoint: tuple[str, ...]
    runtime: str
    resources: Resources = Resources()
    declared_outputs: tuple[str, ...] = ()
    requires_strict: bool = False

    def to_dict(self) -> ManifestDocument:
        """Return the manifest as plain data, every default filled in (optional limits only if set)."""
        document: ManifestDocument = {
            "app": {"name": self.name, "entrypoint": list(self.entrypoint), "runtime": self.runtime},
            "resources": {
                name: getattr(self.resources, name)
                for name in [limit[0] for limit in _LIMITS] + [limit[0] for limit in _OPTIONAL_LIMITS]
                if getattr(self.resources, name) is not None
            },
            "outputs": {"declared": list(self.declared_outputs)},
        }
        if self.requires_strict:
            document["isolation"] = {"require": "strict"}
        return document

    def canonical(self) -> bytes:
        """Return the canonical bytes: JSON of :meth:`to_dict`, sorted keys, no spaces, ASCII.

        Two manifests that mean the same (comments, key order, defaults written out or not)
        have the same canonical bytes; any change of meaning changes them.
        """
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _table(data: Mapping[str, object], key: str, *, required: bool) -> dict[str, object]:
    value = data.get(key, None if required else {})
    if not isinstance(value, dict):
        raise _invalid(f"[{key}] table is missing" if value is None else f"[{key}] must be a table")
    return value


def _exact(table: Mapping[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _invalid(f"unknown key(s) in [{where}]: {', '.join(unknown)}")


def _relative_path(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise _invalid(f"{what} must be a non-empty string")
    parts = value.split("/")
    if value.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\0" in value:
        raise _invalid(f"{what} {value!r} must be a plain relative path")
    return value


def parse_manifest(text: str) -> AppManifest:
    """Parse and validate the text of a ``sealrun-app.toml``.

    Args:
        text: the TOML document.

    Returns:
        The validated :class:`AppManifest`.

    Raises:
        EnclaveError: ``MANIFEST_NOT_TOML`` or ``MANIFEST_INVALID``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AppBundleError(
            f"{MANIFEST_NAME} is not valid TOML: {error}", code="MANIFEST_NOT_TOML"
        ) from error
    _exact(data, {"app", "resources", "outputs", "isolation"}, "top level")
    app = _table(data, "app", required=True)
    _exact(app, {"name", "entrypoint", "runtime"}, "app")
    name = app.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _invalid("app.name must be 1-64 letters, digits, '.', '_' or '-'")
    entrypoint = app.get("entrypoint")
    if (
        not isinstance(entrypoint, list)
        or not entrypoint
        or len(entrypoint) > 256
        or not all(isinstance(arg, str) and arg and "\0" not in arg for arg in entrypoint)
    ):
        raise _invalid("app.entrypoint must be a non-empty list of non-empty strings (argv)")
    runtime = app.get("runtime")
    if runtime not in RUNTIMES:
        raise _invalid(f"app.runtime must be one of {', '.join(RUNTIMES)}")
    resources = _table(data, "resources", required=False)
    _exact(resources, {name for name, *_ in _LIMITS} | {name for name, *_ in _OPTIONAL_LIMITS}, "resources")
    limits: dict[str, int] = {}
    for field_name, default, low, high in _LIMITS:
        value = resources.get(field_name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(f"resources.{field_name} must be an integer in [{low}, {high}]")
        limits[field_name] = value
    for field_name, low, high in _OPTIONAL_LIMITS:
        if field_name in resources:
            value = resources[field_name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _invalid(f"resources.{field_name} must be an integer in [{low}, {high}]")
            limits[field_name] = value
    outputs = _table(data, "outputs", required=False)
    _exact(outputs, {"declared"}, "outputs")
    declared = outputs.get("declared", [])
    if not isinstance(declared, list) or len(declared) > 1024:
        raise _invalid("outputs.declared must be a list of relative paths")
    paths = tuple(_relative_path(path, "declared output") for path in declared)
    if len(set(paths)) != len(paths):
        raise _invalid("outputs.declared lists a path twice")
    isolation = _table(data, "isolation", required=False)
    _exact(isolation, {"require"}, "isolation")
    require = isolation.get("require", "any")
    if require not in ("any", "strict"):
        raise _invalid('isolation.require must be "any" or "strict"')
    return AppManifest(
        name=name,
        entrypoint=tuple(entrypoint),
        runtime=str(runtime),
        resources=Resources(**limits),
        declared_outputs=paths,
        requires_strict=require == "strict",
    )
